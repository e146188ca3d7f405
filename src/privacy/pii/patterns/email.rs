//! Email addresses.

use regex::Regex;

use super::{Candidate, TIER_EXACT};
use crate::privacy::pii::kinds::PiiKind;

pub struct EmailFinder {
    re: Regex,
}

impl EmailFinder {
    pub fn new() -> Self {
        EmailFinder {
            re: Regex::new(
                r"[\p{L}\p{N}_%+\-][\p{L}\p{N}._%+\-]*@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,24}",
            )
            .expect("constant email pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text) {
            out.push(Candidate {
                kind: PiiKind::Email,
                start: m.start(),
                end: m.end(),
                tier: TIER_EXACT,
            });
        }
    }
}
