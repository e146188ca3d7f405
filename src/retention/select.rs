//! How a retention run selects what is due: the organization term of each lookup, the
//! conversations a rule finds due, and the legal-hold and restriction checks, written so
//! SQLite answers each batch from an index.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};

use super::run::Ctx;
use super::{Action, Category, RetentionRule};
use crate::db::InOrg;
use crate::db::entity::{conversation, message};
use crate::orgs::OrgId;

/// The organization's customers on hold or restricted (a restriction of processing keeps the
/// data like a hold, src/privacy/restrict.rs), as SQL. A union rather than an `OR`, so that
/// each half is answered from its (partial) index instead of a walk over every customer —
/// this runs once per batch.
pub(super) fn held_customers_sql(org: OrgId) -> String {
    let org = org.get();
    format!(
        "SELECT id FROM customers WHERE organization_id = {org} AND legal_hold_reason IS NOT NULL \
         UNION SELECT id FROM customers WHERE organization_id = {org} AND restricted_at IS NOT NULL"
    )
}

/// The organization's conversations on legal hold, or whose customer is, as SQL.
pub(super) fn held_conversations_sql(org: OrgId) -> String {
    format!(
        "SELECT id FROM conversations WHERE organization_id = {} AND legal_hold_reason IS NOT NULL \
         UNION SELECT id FROM conversations WHERE customer_id IN ({})",
        org.get(),
        held_customers_sql(org)
    )
}

/// Conversations on legal hold, or whose customer is on hold or restricted.
pub(super) fn held_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NOT NULL OR conversations.customer_id IN ({}))",
        held_customers_sql(org)
    ))
}

pub(super) fn free_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NULL AND conversations.customer_id NOT IN ({}))",
        held_customers_sql(org)
    ))
}

/// Messages (`messages.conversation_id`) in a held conversation, or (`held` false) not.
pub(super) fn in_held_conversation(org: OrgId, held: bool) -> SimpleExpr {
    let not = if held { "" } else { "NOT " };
    Expr::cust(format!(
        "messages.conversation_id {not}IN ({})",
        held_conversations_sql(org)
    ))
}

/// The ids a selection finds due now, in id order: taken once per category, then each chunk
/// of [`BATCH`] is re-checked by id ([`Lookup::Ids`]) in its own transaction.
pub(super) async fn due_ids<E: EntityTrait>(
    db: &impl ConnectionTrait,
    due: Select<E>,
    id: E::Column,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    due.select_only()
        .column(id)
        .order_by_asc(id)
        .into_tuple()
        .all(db)
        .await
}

/// How a selection finds its rows: by walking the organization's rows, or (re-checking a chunk
/// of ids that were due) by id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    Scan,
    Ids,
}

/// The organization term of a selection; for [`Lookup::Ids`] the one of a lookup by listed ids
/// ([`InOrg::org_check`]), so a batch is not found by walking the organization.
pub(super) fn org_term<E: InOrg>(org: OrgId, lookup: Lookup) -> SimpleExpr {
    match lookup {
        Lookup::Ids => E::org_check(org),
        Lookup::Scan => E::organization_id().eq(org),
    }
}

/// The conversations a conversation rule finds due, held or not.
pub(super) fn due_conversations(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    lookup: Lookup,
) -> Select<conversation::Entity> {
    let cutoff = rule.cutoff(ctx.now);
    let mut query =
        conversation::Entity::find().filter(org_term::<conversation::Entity>(ctx.org, lookup));
    query = match rule.category() {
        Category::ClosedConversations => query
            .filter(conversation::Column::Status.eq("closed"))
            .filter(conversation::Column::ClosedAt.lt(cutoff)),
        _ => query.filter(conversation::Column::LastActivityAt.lt(cutoff)),
    };
    if rule.action() == Action::Anonymize {
        query = query.filter(Expr::cust("conversations.anonymized_at IS NULL"));
    }
    query
}

pub(super) fn messages_of(
    conversations: Select<conversation::Entity>,
) -> sea_orm::sea_query::SelectStatement {
    message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(
            message::Column::ConversationId.in_subquery(
                conversations
                    .select_only()
                    .column(conversation::Column::Id)
                    .into_query(),
            ),
        )
        .into_query()
}

pub(super) async fn count_distinct_customers(
    db: &impl ConnectionTrait,
    query: Select<conversation::Entity>,
) -> Result<u64, sea_orm::DbErr> {
    let n: Option<i64> = query
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT conversations.customer_id)"), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}
