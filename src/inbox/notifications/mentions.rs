//! `@mentions` in internal notes, parsed on the server (no JavaScript needed).
//!
//! The rule: `@word` — letters, digits, `.`, `_` and `-` after an `@` that does not follow a
//! letter or digit (so `anna@shop.test` is no mention), trailing `.`/`-` dropped — mentions
//! every team member of the organization whose
//! - display name without its spaces is `word` ("Bea Berg" is `@BeaBerg`; "Bea" is `@bea`),
//! - or first name (the first word of the display name) is `word`, when exactly one member
//!   has that first name,
//! - or email address before the `@` is `word` (`bea@shop.test` is `@bea`),
//!
//! all compared without regard to case. An `@word` that names nobody stays plain text. The
//! autocomplete (`assets/js/mentions.js`, fed by `GET /mentions/members`) inserts the first
//! form.

use std::collections::{BTreeSet, HashMap};

use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::db::InOrg;
use crate::db::entity::{membership, user};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::AppError;

/// A team member as mentions see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub display_name: String,
    /// The email address before the `@`.
    pub local_part: String,
}

impl Member {
    /// What the autocomplete inserts after `@`: the display name without spaces.
    pub fn handle(&self) -> String {
        self.display_name.split_whitespace().collect()
    }
}

/// The members of `org`, by user id.
pub async fn team(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<Member>, DbErr> {
    let ids: Vec<i64> = membership::Entity::find_in(org)
        .select_only()
        .column(membership::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, String, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .column(user::Column::Email)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, email)| Member {
            id,
            display_name,
            local_part: email.split('@').next().unwrap_or_default().to_owned(),
        })
        .collect())
}

/// A piece of a note as the page shows it: plain text, or a mention of a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Mention(String),
}

impl Segment {
    pub fn text(&self) -> &str {
        match self {
            Segment::Text(text) | Segment::Mention(text) => text,
        }
    }

    pub fn is_mention(&self) -> bool {
        matches!(self, Segment::Mention(_))
    }
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Each `@word` of `text`: (byte offset of the `@`, the word).
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@' && !previous.is_some_and(char::is_alphanumeric);
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !word_char(c)).unwrap_or(rest.len());
        let word = rest[..end].trim_end_matches(['.', '-']);
        if !word.is_empty() {
            out.push((at, word));
        }
    }
    out
}

/// The members `word` names (see the module's rule).
fn named<'m>(word: &str, members: &'m [Member]) -> Vec<&'m Member> {
    let word = word.to_lowercase();
    let mut first_names: HashMap<String, usize> = HashMap::new();
    for member in members {
        if let Some(first) = member.display_name.split_whitespace().next() {
            *first_names.entry(first.to_lowercase()).or_default() += 1;
        }
    }
    members
        .iter()
        .filter(|m| {
            let first = m
                .display_name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase();
            m.handle().to_lowercase() == word
                || (first == word && first_names.get(&first) == Some(&1))
                || (!m.local_part.is_empty() && m.local_part.to_lowercase() == word)
        })
        .collect()
}

/// The user ids of the members `text` mentions, each once.
pub fn mentioned(text: &str, members: &[Member]) -> BTreeSet<i64> {
    tokens(text)
        .into_iter()
        .flat_map(|(_, word)| named(word, members))
        .map(|m| m.id)
        .collect()
}

/// `text` cut into plain text and mentions of members (an unknown `@word` stays text).
pub fn segments(text: &str, members: &[Member]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut done = 0;
    for (at, word) in tokens(text) {
        if named(word, members).is_empty() {
            continue;
        }
        if at > done {
            out.push(Segment::Text(text[done..at].to_owned()));
        }
        let end = at + 1 + word.len();
        out.push(Segment::Mention(text[at..end].to_owned()));
        done = end;
    }
    if done < text.len() {
        out.push(Segment::Text(text[done..].to_owned()));
    }
    out
}

#[derive(Serialize)]
struct MemberJson {
    /// What to type after `@`.
    handle: String,
    name: String,
}

/// `GET /mentions/members`: the display names of the signed-in agent's team, for the note
/// box's autocomplete (no addresses).
pub async fn members(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    let mut members: Vec<MemberJson> = team(&state.db, scope.org())
        .await?
        .into_iter()
        .map(|m| MemberJson {
            handle: m.handle(),
            name: m.display_name,
        })
        .filter(|m| !m.handle.is_empty())
        .collect();
    members.sort_by_key(|m| m.name.to_lowercase());
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(members))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Vec<Member> {
        vec![
            Member {
                id: 1,
                display_name: "Bea Berg".into(),
                local_part: "bea.b".into(),
            },
            Member {
                id: 2,
                display_name: "Carl".into(),
                local_part: "carl".into(),
            },
            Member {
                id: 3,
                display_name: "Carl Otto".into(),
                local_part: "co".into(),
            },
        ]
    }

    #[test]
    fn mentions_match_the_name_without_spaces_a_unique_first_name_or_the_local_part() {
        let members = team();
        assert_eq!(mentioned("@BeaBerg look", &members), [1].into());
        assert_eq!(mentioned("ask @bea.", &members), [1].into());
        assert_eq!(mentioned("(@bea.b)", &members), [1].into());
        assert_eq!(mentioned("@carl and @CarlOtto", &members), [2, 3].into());
        assert_eq!(mentioned("@co, please", &members), [3].into());
    }

    #[test]
    fn addresses_and_unknown_words_are_no_mentions() {
        let members = team();
        assert!(mentioned("write to bea@shop.test", &members).is_empty());
        assert!(mentioned("@nobody here, @ alone", &members).is_empty());
        assert_eq!(
            segments("hi @nobody", &members),
            vec![Segment::Text("hi @nobody".into())]
        );
    }

    #[test]
    fn segments_mark_the_mentions_and_keep_the_rest() {
        let segments = segments("Hi @bea, see @x.\nBye", &team());
        assert_eq!(
            segments,
            vec![
                Segment::Text("Hi ".into()),
                Segment::Mention("@bea".into()),
                Segment::Text(", see @x.\nBye".into()),
            ]
        );
    }
}
