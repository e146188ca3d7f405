//! How a retention run selects what is due: the organization term of each lookup, the
//! conversations a rule finds due, and the legal-hold and restriction checks, written so
//! SQLite answers each batch from an index.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select,
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
        // Marking as spam records when in `closed_at`.
        Category::Spam => query
            .filter(conversation::Column::Status.eq("spam"))
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

/// Of these customers of `org`, the records a run removes with their last conversation: no
/// conversation left, not on legal hold, not restricted, and holding no other data that needs
/// the record — an open privacy request (it must still be answered) or an objection in force
/// (it must go on being honoured when they write again). A merchant who sets only a
/// conversation rule thus keeps no name or address for ever.
pub(super) async fn left_behind(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
) -> Result<Vec<i64>, sea_orm::DbErr> {
    use crate::db::entity::customer;
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(org_term::<customer::Entity>(org, Lookup::Ids))
        .filter(customer::Column::Id.is_in(customers.iter().copied()))
        .filter(Expr::cust(NO_CONVERSATION_LEFT))
        .filter(Expr::cust(KEEPS_NOTHING_ELSE))
        .order_by_asc(customer::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// The condition of [`left_behind`] on `customers`, apart from "no conversation left".
const KEEPS_NOTHING_ELSE: &str = "customers.legal_hold_reason IS NULL \
     AND customers.restricted_at IS NULL \
     AND customers.objection_effects IS NULL \
     AND NOT EXISTS (SELECT 1 FROM privacy_requests r \
         WHERE r.customer_id = customers.id AND r.status = 'open')";

const NO_CONVERSATION_LEFT: &str =
    "NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)";

/// For a preview: how many customer records would go with their last conversation if these
/// conversations (`due`: conversation id, customer id) went now.
pub(super) async fn count_left_behind(
    db: &impl ConnectionTrait,
    org: OrgId,
    due: &[(i64, i64)],
) -> Result<u64, sea_orm::DbErr> {
    use crate::db::entity::customer;
    use std::collections::BTreeMap;
    let mut due_per_customer: BTreeMap<i64, i64> = BTreeMap::new();
    for (_, customer_id) in due {
        *due_per_customer.entry(*customer_id).or_default() += 1;
    }
    let customers: Vec<i64> = due_per_customer.keys().copied().collect();
    let mut n = 0;
    for chunk in customers.chunks(500) {
        let totals: Vec<(i64, i64)> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::CustomerId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(org_term::<conversation::Entity>(org, Lookup::Ids))
            .filter(conversation::Column::CustomerId.is_in(chunk.iter().copied()))
            .group_by(conversation::Column::CustomerId)
            .into_tuple()
            .all(db)
            .await?;
        let emptied: Vec<i64> = totals
            .into_iter()
            .filter(|(customer_id, total)| due_per_customer.get(customer_id) == Some(total))
            .map(|(customer_id, _)| customer_id)
            .collect();
        if emptied.is_empty() {
            continue;
        }
        n += customer::Entity::find()
            .filter(org_term::<customer::Entity>(org, Lookup::Ids))
            .filter(customer::Column::Id.is_in(emptied))
            .filter(Expr::cust(KEEPS_NOTHING_ELSE))
            .count(db)
            .await?;
    }
    Ok(n)
}

/// Deletes the records of these customers that [`left_behind`] finds (inside the batch's
/// transaction), after the requests about them forget them as on erasure (the link and the
/// note, which may name the person).
pub(super) async fn delete_left_behind(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
    log: &crate::backup::journal::Journal,
) -> Result<(crate::records::Removed, crate::records::Files), sea_orm::DbErr> {
    let left = left_behind(db, org, customers).await?;
    if left.is_empty() {
        return Ok(Default::default());
    }
    for customer_id in &left {
        crate::privacy::requests::forget_customer(db, org, *customer_id).await?;
    }
    crate::records::delete_customers(db, org, &left, log).await
}
