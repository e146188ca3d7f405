//! Carries a rectification into the customer's conversations: every old value of the record
//! that a message or a conversation subject holds is replaced by the corrected one, inside the
//! rectification's transaction. The search queue triggers re-index what changed.

use std::borrow::Cow;

use regex::{NoExpand, Regex, RegexBuilder};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::{conversation, message};
use crate::mail::parse::rewrite_html_text;
use crate::orgs::OrgId;

/// One old value and its replacement.
pub struct Replacement {
    old: String,
    new: String,
    /// Addresses match whatever their case; names, phones and street lines as written.
    ignore_case: bool,
}

impl Replacement {
    pub fn exact(old: &str, new: &str) -> Self {
        Replacement {
            old: old.trim().to_owned(),
            new: new.trim().to_owned(),
            ignore_case: false,
        }
    }

    pub fn address(old: &str, new: &str) -> Self {
        Replacement {
            ignore_case: true,
            ..Replacement::exact(old, new)
        }
    }

    /// Nothing to replace: an empty old value, or the same one.
    pub fn is_noop(&self) -> bool {
        self.old.is_empty() || self.old == self.new
    }

    /// The whole-word pattern for the old value. HTML bodies are matched through
    /// [`rewrite_html_text`], which hands over decoded text, so one pattern serves all fields.
    fn pattern(&self) -> Option<(Regex, String)> {
        // Whole words only: a name "Ann" is not replaced inside "Annual".
        let edge = |c: Option<char>| {
            if c.is_some_and(char::is_alphanumeric) {
                r"\b"
            } else {
                ""
            }
        };
        let pattern = format!(
            "{}{}{}",
            edge(self.old.chars().next()),
            regex::escape(&self.old),
            edge(self.old.chars().last())
        );
        RegexBuilder::new(&pattern)
            .case_insensitive(self.ignore_case)
            .build()
            .ok()
            .map(|regex| (regex, self.new.clone()))
    }
}

/// Replaces each old value in `text`; borrowed when nothing matched.
fn replace<'t>(text: &'t str, patterns: &[(Regex, String)]) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    for (regex, new) in patterns {
        if let Cow::Owned(replaced) = regex.replace_all(&out, NoExpand(new)) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// Rewrites the subjects, bodies and address fields of the customer's conversations.
pub async fn rewrite(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    replacements: &[Replacement],
) -> Result<(), sea_orm::DbErr> {
    if replacements.is_empty() {
        return Ok(());
    }
    let patterns: Vec<(Regex, String)> = replacements
        .iter()
        .filter_map(Replacement::pattern)
        .collect();
    let conversations: Vec<(i64, String)> = conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .column(conversation::Column::Subject)
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .into_tuple()
        .all(db)
        .await?;
    for (id, subject) in &conversations {
        if let Cow::Owned(subject) = replace(subject, &patterns) {
            db.execute(
                &Query::update()
                    .table(conversation::Entity)
                    .value(conversation::Column::Subject, subject)
                    .and_where(conversation::Column::Id.eq(*id))
                    .and_where(conversation::Column::OrganizationId.eq(org))
                    .to_owned(),
            )
            .await?;
        }
    }
    let ids: Vec<i64> = conversations.iter().map(|(id, _)| *id).collect();
    for chunk in ids.chunks(500) {
        let messages = message::Entity::lookup_in(org)
            .filter(message::Column::ConversationId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for m in messages {
            rewrite_message(db, &m, &patterns).await?;
        }
    }
    Ok(())
}

async fn rewrite_message(
    db: &impl ConnectionTrait,
    m: &message::Model,
    patterns: &[(Regex, String)],
) -> Result<(), sea_orm::DbErr> {
    let mut update = Query::update();
    update.table(message::Entity);
    let mut changed = false;
    let mut set = |column: message::Column, value: &str| {
        if let Cow::Owned(new) = replace(value, patterns) {
            update.value(column, new);
            changed = true;
        }
    };
    set(message::Column::Subject, &m.subject);
    set(message::Column::TextBody, &m.text_body);
    set(message::Column::FromName, &m.from_name);
    set(message::Column::FromAddress, &m.from_address);
    set(message::Column::ToAddresses, &m.to_addresses);
    set(message::Column::CcAddresses, &m.cc_addresses);
    set(message::Column::BccAddresses, &m.bcc_addresses);
    if let Some(error) = &m.delivery_error {
        set(message::Column::DeliveryError, error);
    }
    if let Some(html) = &m.html_body {
        // Text nodes and attribute values only, escaped, then sanitized again: a corrected
        // name can never become markup on the conversation page.
        let rewritten = rewrite_html_text(html, |text| match replace(text, patterns) {
            Cow::Owned(new) => Some(new),
            Cow::Borrowed(_) => None,
        });
        if let Some(rewritten) = rewritten {
            update.value(message::Column::HtmlBody, rewritten);
            changed = true;
        }
    }
    if changed {
        update.and_where(message::Column::Id.eq(m.id));
        db.execute(&update).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, replacements: &[Replacement]) -> String {
        let patterns: Vec<_> = replacements
            .iter()
            .filter_map(Replacement::pattern)
            .collect();
        replace(text, &patterns).into_owned()
    }

    #[test]
    fn addresses_match_whatever_their_case_and_names_as_written() {
        let replacements = [
            Replacement::address("Ann.Old@Kunde.test", "ann@new.test"),
            Replacement::exact("Ann Mistyped", "Ann Example"),
            Replacement::exact("Bo", "Bob"),
        ];

        let out = apply(
            "From: Ann Mistyped <ann.old@kunde.TEST>, cc ann mistyped, Bo and Bodo",
            &replacements,
        );

        assert_eq!(
            out,
            "From: Ann Example <ann@new.test>, cc ann mistyped, Bob and Bodo"
        );
    }

    #[test]
    fn dollar_signs_are_literal() {
        let replacements = [Replacement::exact("Smith & Sons", "$1 Smith")];

        let out = apply("Smith & Sons", &replacements);

        assert_eq!(out, "$1 Smith");
    }

    #[test]
    fn empty_or_unchanged_values_replace_nothing() {
        assert!(Replacement::exact("", "x").is_noop());
        assert!(Replacement::exact("Ann", "Ann").is_noop());
        assert!(!Replacement::address("a@b.test", "").is_noop());
    }
}
