//! Email addresses.

use regex::Regex;

use super::{Candidate, TIER_EXACT};
use crate::privacy::pii::kinds::PiiKind;

pub struct EmailFinder {
    re: Regex,
    /// Spelled-out addresses: "jo.smith at example dot com", "ana arroba example punto es",
    /// "jan [at] example [dot] nl".
    spelled: Regex,
}

impl EmailFinder {
    pub fn new() -> Self {
        EmailFinder {
            re: Regex::new(
                r"[\p{L}\p{N}_%+\-][\p{L}\p{N}._%+\-]*@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,24}",
            )
            .expect("constant email pattern"),
            spelled: Regex::new(
                r"(?i)[\p{L}\p{N}_%+\-]+(?:(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)[\p{L}\p{N}_%+\-]+)*(?:[ \t]*[\[(][ \t]*(?:at|ät|arobase)[ \t]*[\])][ \t]*|[ \t]+(?:at|arroba|arobase|chiocciola|apenstaartje|klammeraffe|ät)[ \t]+)[\p{L}\p{N}_%+\-]+(?:(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)[\p{L}\p{N}_%+\-]+)*(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)(?:com|net|org|info|eu|de|at|ch|fr|be|es|it|nl|uk|co\.uk|ie|lu|pt|pl)(?-u:\b)",
            )
            .expect("constant email pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text).chain(self.spelled.find_iter(text)) {
            out.push(Candidate {
                kind: PiiKind::Email,
                start: m.start(),
                end: m.end(),
                tier: TIER_EXACT,
            });
        }
    }
}
