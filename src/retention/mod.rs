//! Retention: per organization, one rule per data category says after how many days the data
//! is deleted or anonymized. The runner (`run.rs`) enforces the saved rules on a schedule
//! (`schedule.rs`), in small batches; `settings.rs` serves the settings page and `hold.rs` the
//! legal hold forms.

pub mod anonymize;
mod categories;
mod error;
pub mod hold;
pub mod lock;
pub mod run;
pub mod schedule;
mod select;
pub mod settings;
pub mod sweep;
pub mod tick;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::db::InOrg;
use crate::db::entity::{retention_rule, retention_setting};
use crate::orgs::OrgId;

pub use error::RetentionError;
pub use run::{RunReport, run_once};

/// The audit log is kept at least this long (seed policies promise 12 months).
pub const AUDIT_LOG_MIN_DAYS: i32 = 365;
/// The longest age a rule accepts (100 years).
pub const MAX_DAYS: i32 = 36_500;
/// The schedule used until an admin changes it: daily at 03:00 server time.
pub const DEFAULT_SCHEDULE: &str = "0 3 * * *";

/// A category of data a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Closed conversations, by age since closing.
    ClosedConversations,
    /// Any conversation, by age since its last activity.
    AnyConversation,
    /// Attachments, by age of their message.
    Attachments,
    /// Internal notes, by age.
    InternalNotes,
    /// Customers with no remaining conversations, by age of the record.
    CustomersWithoutConversations,
    /// The organization's audit log entries, by age.
    AuditLog,
    /// Access entries (who opened whose data, src/audit/access.rs), by age.
    AccessLog,
    /// Conversations marked as spam (src/inbox/spam.rs), by age since marked.
    Spam,
    /// Reply drafts never sent (src/inbox/drafts.rs), by age of their last change.
    UnsentDrafts,
    /// Suggestions kept for customer messages (src/assist/suggest/), by age.
    AssistSuggestions,
}

impl Category {
    /// In the order a run applies them.
    pub const ALL: [Category; 10] = [
        Category::UnsentDrafts,
        Category::AssistSuggestions,
        Category::Attachments,
        Category::InternalNotes,
        Category::Spam,
        Category::ClosedConversations,
        Category::AnyConversation,
        Category::CustomersWithoutConversations,
        Category::AuditLog,
        Category::AccessLog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ClosedConversations => "closed_conversations",
            Category::AnyConversation => "any_conversation",
            Category::Attachments => "attachments",
            Category::InternalNotes => "internal_notes",
            Category::CustomersWithoutConversations => "customers_without_conversations",
            Category::AuditLog => "audit_log",
            Category::AccessLog => "access_log",
            Category::Spam => "spam",
            Category::UnsentDrafts => "unsent_drafts",
            Category::AssistSuggestions => "assist_suggestions",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value.trim())
    }

    /// The catalog key of its name.
    pub fn label_key(self) -> &'static str {
        match self {
            Category::ClosedConversations => "retention.category.closed_conversations",
            Category::AnyConversation => "retention.category.any_conversation",
            Category::Attachments => "retention.category.attachments",
            Category::InternalNotes => "retention.category.internal_notes",
            Category::CustomersWithoutConversations => {
                "retention.category.customers_without_conversations"
            }
            Category::AuditLog => "retention.category.audit_log",
            Category::AccessLog => "retention.category.access_log",
            Category::Spam => "retention.category.spam",
            Category::UnsentDrafts => "retention.category.unsent_drafts",
            Category::AssistSuggestions => "retention.category.assist_suggestions",
        }
    }

    /// The catalog key of the explanation of what its age counts from.
    pub fn hint_key(self) -> &'static str {
        match self {
            Category::ClosedConversations => "retention.hint.closed_conversations",
            Category::AnyConversation => "retention.hint.any_conversation",
            Category::Attachments => "retention.hint.attachments",
            Category::InternalNotes => "retention.hint.internal_notes",
            Category::CustomersWithoutConversations => {
                "retention.hint.customers_without_conversations"
            }
            Category::AuditLog => "retention.hint.audit_log",
            Category::AccessLog => "retention.hint.access_log",
            Category::Spam => "retention.hint.spam",
            Category::UnsentDrafts => "retention.hint.unsent_drafts",
            Category::AssistSuggestions => "retention.hint.assist_suggestions",
        }
    }

    /// Can data of this category be anonymized (rather than only deleted)?
    pub fn allows_anonymize(self) -> bool {
        !matches!(
            self,
            Category::AuditLog
                | Category::Attachments
                | Category::AccessLog
                | Category::Spam
                | Category::UnsentDrafts
        )
    }

    /// The rule shown (not applied) until an admin saves one.
    pub fn default_rule(self) -> RetentionRule {
        let (after_days, action) = match self {
            Category::ClosedConversations => (365, Action::Anonymize),
            Category::AnyConversation => (730, Action::Delete),
            Category::Attachments => (180, Action::Delete),
            Category::InternalNotes => (365, Action::Anonymize),
            Category::CustomersWithoutConversations => (30, Action::Delete),
            Category::AuditLog => (730, Action::Delete),
            Category::AccessLog => (365, Action::Delete),
            Category::Spam => (30, Action::Delete),
            Category::UnsentDrafts => (30, Action::Delete),
            // As a seed promises: unused suggestions anonymized after 30 days.
            Category::AssistSuggestions => (30, Action::Anonymize),
        };
        RetentionRule {
            category: self,
            after_days,
            action,
        }
    }
}

/// What happens to data older than the rule's age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Delete,
    Anonymize,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Anonymize => "anonymize",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "delete" => Some(Action::Delete),
            "anonymize" => Some(Action::Anonymize),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Action::Delete => "retention.action.delete",
            Action::Anonymize => "retention.action.anonymize",
        }
    }
}

/// Why a rule was refused. Each names the field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "category: must be one of closed_conversations, any_conversation, attachments, internal_notes, customers_without_conversations, audit_log, access_log, spam, unsent_drafts, assist_suggestions"
    )]
    UnknownCategory,
    #[error("action: must be delete or anonymize")]
    UnknownAction,
    #[error("after-days: must be a whole number from 1 to 36500")]
    DaysOutOfRange,
    #[error("after-days: the audit log is kept at least 365 days")]
    AuditLogTooShort,
    #[error("action: this category can only be deleted")]
    DeleteOnly,
}

impl RuleError {
    /// The catalog key of the message shown on the settings page.
    pub fn message_key(self) -> &'static str {
        match self {
            RuleError::UnknownCategory => "retention.error.category",
            RuleError::UnknownAction => "retention.error.action",
            RuleError::DaysOutOfRange => "retention.error.days",
            RuleError::AuditLogTooShort => "retention.error.audit_log_min",
            RuleError::DeleteOnly => "retention.error.delete_only",
        }
    }
}

/// A checked rule: only [`RetentionRule::new`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    category: Category,
    after_days: i32,
    action: Action,
}

impl RetentionRule {
    pub fn new(category: Category, after_days: i64, action: Action) -> Result<Self, RuleError> {
        if !(1..=i64::from(MAX_DAYS)).contains(&after_days) {
            return Err(RuleError::DaysOutOfRange);
        }
        let after_days = after_days as i32;
        if category == Category::AuditLog && after_days < AUDIT_LOG_MIN_DAYS {
            return Err(RuleError::AuditLogTooShort);
        }
        if action == Action::Anonymize && !category.allows_anonymize() {
            return Err(RuleError::DeleteOnly);
        }
        Ok(Self {
            category,
            after_days,
            action,
        })
    }

    /// Where the rule runs in a run: categories in `Category::ALL` order, except that of the two
    /// conversation rules a deleting one runs first, so nothing is anonymized only to be
    /// deleted a moment later (and counted twice).
    fn run_order(&self) -> (usize, bool, usize) {
        let position = Category::ALL
            .iter()
            .position(|c| *c == self.category)
            .unwrap_or(usize::MAX);
        let conversation_rules = Category::ALL
            .iter()
            .position(|c| *c == Category::ClosedConversations)
            .unwrap_or(usize::MAX);
        match self.category {
            Category::ClosedConversations | Category::AnyConversation => (
                conversation_rules,
                self.action == Action::Anonymize,
                position,
            ),
            _ => (position, false, position),
        }
    }

    /// Parses the strings a form or the command line gives.
    pub fn parse(category: &str, after_days: &str, action: &str) -> Result<Self, RuleError> {
        let category = Category::parse(category).ok_or(RuleError::UnknownCategory)?;
        let action = Action::parse(action).ok_or(RuleError::UnknownAction)?;
        let after_days = after_days
            .trim()
            .parse::<i64>()
            .map_err(|_| RuleError::DaysOutOfRange)?;
        Self::new(category, after_days, action)
    }

    pub fn category(&self) -> Category {
        self.category
    }

    pub fn after_days(&self) -> i32 {
        self.after_days
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// Data older than this is due.
    pub fn cutoff(&self, now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.after_days))
    }
}

/// Every organization's id (the command line runs retention for all of them).
pub async fn organization_ids(db: &impl ConnectionTrait) -> Result<Vec<OrgId>, sea_orm::DbErr> {
    use sea_orm::QuerySelect;
    let ids: Vec<i64> = crate::db::entity::organization::Entity::find()
        .select_only()
        .column(crate::db::entity::organization::Column::Id)
        .order_by_asc(crate::db::entity::organization::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().map(OrgId::from_db).collect())
}

/// The saved rules of an organization. A stored row that no longer parses is skipped (and
/// logged without data), never applied.
pub async fn saved_rules(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<RetentionRule>, sea_orm::DbErr> {
    let rows = retention_rule::Entity::find_in(org)
        .order_by_asc(retention_rule::Column::Id)
        .all(db)
        .await?;
    let mut rules: Vec<RetentionRule> = rows
        .into_iter()
        .filter_map(|row| {
            let parsed =
                RetentionRule::parse(&row.category, &row.after_days.to_string(), &row.action);
            if parsed.is_err() {
                tracing::warn!(
                    rule_id = row.id,
                    "ignoring an invalid stored retention rule"
                );
            }
            parsed.ok()
        })
        .collect();
    rules.sort_by_key(RetentionRule::run_order);
    Ok(rules)
}

/// Saves (inserts or replaces) the organization's rule for the rule's category.
pub async fn save_rule(
    db: &impl ConnectionTrait,
    org: OrgId,
    rule: RetentionRule,
) -> Result<(), sea_orm::DbErr> {
    ensure_settings(db, org).await?;
    retention_rule::Entity::insert(retention_rule::ActiveModel {
        organization_id: Set(org),
        category: Set(rule.category.as_str().to_owned()),
        after_days: Set(rule.after_days),
        action: Set(rule.action.as_str().to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            retention_rule::Column::OrganizationId,
            retention_rule::Column::Category,
        ])
        .update_columns([
            retention_rule::Column::AfterDays,
            retention_rule::Column::Action,
            retention_rule::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes the organization's rule for a category (its data is then kept indefinitely).
pub async fn remove_rule(
    db: &impl ConnectionTrait,
    org: OrgId,
    category: Category,
) -> Result<u64, sea_orm::DbErr> {
    Ok(retention_rule::Entity::delete_in(org)
        .filter(retention_rule::Column::Category.eq(category.as_str()))
        .exec(db)
        .await?
        .rows_affected)
}

/// The organization's settings row, created with the default schedule when missing.
pub async fn ensure_settings(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<retention_setting::Model, sea_orm::DbErr> {
    if let Some(found) = retention_setting::Entity::find_by_id(org).one(db).await? {
        return Ok(found);
    }
    let now = Utc::now();
    retention_setting::Entity::insert(retention_setting::ActiveModel {
        organization_id: Set(org),
        schedule: Set(DEFAULT_SCHEDULE.to_owned()),
        running_since: Set(None),
        schedule_checked_at: Set(Some(now)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(retention_setting::Column::OrganizationId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    retention_setting::Entity::find_by_id(org)
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("retention settings".into()))
}

/// Sets the organization's schedule (already checked by [`schedule::Schedule::parse`]).
pub async fn set_schedule(
    db: &impl ConnectionTrait,
    org: OrgId,
    schedule: &schedule::Schedule,
) -> Result<(), sea_orm::DbErr> {
    ensure_settings(db, org).await?;
    retention_setting::Entity::update_in(org)
        .col_expr(
            retention_setting::Column::Schedule,
            sea_orm::sea_query::Expr::val(schedule.as_str()),
        )
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_log_rules_below_a_year_are_refused() {
        assert_eq!(
            RetentionRule::new(Category::AuditLog, 364, Action::Delete),
            Err(RuleError::AuditLogTooShort)
        );
        assert!(RetentionRule::new(Category::AuditLog, 365, Action::Delete).is_ok());
        assert_eq!(
            RetentionRule::new(Category::AuditLog, 400, Action::Anonymize),
            Err(RuleError::DeleteOnly)
        );
    }

    #[test]
    fn rules_parse_from_strings_and_name_the_bad_field() {
        assert_eq!(
            RetentionRule::parse("closed_conversations", "30", "shred"),
            Err(RuleError::UnknownAction)
        );
        assert_eq!(
            RetentionRule::parse("everything", "30", "delete"),
            Err(RuleError::UnknownCategory)
        );
        assert_eq!(
            RetentionRule::parse("attachments", "0", "delete"),
            Err(RuleError::DaysOutOfRange)
        );
        assert_eq!(
            RetentionRule::parse("attachments", "x", "delete"),
            Err(RuleError::DaysOutOfRange)
        );
        let rule = RetentionRule::parse("closed_conversations", " 30 ", "anonymize").unwrap();
        assert_eq!(rule.after_days(), 30);
        assert_eq!(rule.action(), Action::Anonymize);
    }

    #[test]
    fn every_default_rule_is_valid() {
        for category in Category::ALL {
            let d = category.default_rule();
            assert_eq!(
                RetentionRule::new(category, i64::from(d.after_days), d.action),
                Ok(d)
            );
        }
    }

    #[test]
    fn a_deleting_conversation_rule_runs_before_an_anonymizing_one() {
        let rule = |category, action| RetentionRule::new(category, 30, action).unwrap();
        let mut rules = vec![
            rule(Category::AnyConversation, Action::Anonymize),
            rule(Category::ClosedConversations, Action::Delete),
            rule(Category::Attachments, Action::Delete),
        ];
        rules.sort_by_key(RetentionRule::run_order);
        let order: Vec<Category> = rules.iter().map(|r| r.category()).collect();
        assert_eq!(
            order,
            [
                Category::Attachments,
                Category::ClosedConversations,
                Category::AnyConversation
            ]
        );
        rules = vec![
            rule(Category::ClosedConversations, Action::Anonymize),
            rule(Category::AnyConversation, Action::Delete),
        ];
        rules.sort_by_key(RetentionRule::run_order);
        assert_eq!(rules[0].category(), Category::AnyConversation);
    }
}
