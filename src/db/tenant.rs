//! The organization filter, written once. Every table with an `organization_id` column is
//! [`InOrg`]: its queries start from [`InOrg::find_in`], [`InOrg::find_by_id_in`],
//! [`InOrg::update_in`] or [`InOrg::delete_in`], which take an [`OrgId`] (made only by the
//! session, the API key, the database and the command line) and add the filter themselves.
//! The column is typed [`OrgId`], so a model's `organization_id` is an `OrgId` without a cast.
//!
//! One trick lives here and nowhere else: [`InOrg::lookup_in`] writes the term
//! `+table.organization_id = N` for lookups that go by another key. See [`InOrg::org_check`].

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, DeleteMany, EntityTrait, PrimaryKeyTrait, QueryFilter, Select, UpdateMany,
};

use super::entity;
use crate::orgs::OrgId;

/// A table whose rows belong to one organization.
pub trait InOrg: EntityTrait {
    /// The table's `organization_id` column.
    fn organization_id() -> Self::Column;

    /// The organization's rows, found by walking the organization (its index leads with
    /// `organization_id`).
    fn find_in(org: OrgId) -> Select<Self> {
        Self::find().filter(Self::organization_id().eq(org))
    }

    /// The organization's rows, found by another key the caller filters on (listed ids, a
    /// parent's id): the organization term is [`InOrg::org_check`].
    fn lookup_in(org: OrgId) -> Select<Self> {
        Self::find().filter(Self::org_check(org))
    }

    /// One row by primary key, if it belongs to the organization.
    fn find_by_id_in(
        org: OrgId,
        id: <Self::PrimaryKey as PrimaryKeyTrait>::ValueType,
    ) -> Select<Self> {
        Self::find_by_id(id).filter(Self::organization_id().eq(org))
    }

    fn update_in(org: OrgId) -> UpdateMany<Self> {
        Self::update_many().filter(Self::organization_id().eq(org))
    }

    fn delete_in(org: OrgId) -> DeleteMany<Self> {
        Self::delete_many().filter(Self::organization_id().eq(org))
    }

    /// The organization term of a lookup that goes by another key — listed ids (`id IN (…)`)
    /// or a parent's rows (`conversation_id = ?`, `customer_id = ?`) — written
    /// `+table.organization_id = N` (valid in both databases). Plain, SQLite takes it for
    /// selective and may answer from an index that leads with `organization_id`, walking every
    /// row of the organization to find the few wanted, so a page gets slower as the shop's
    /// data grows. The `+` keeps the term as a check and lets the lookup use the other key's
    /// index.
    fn org_check(org: OrgId) -> SimpleExpr {
        Expr::cust(format!(
            "+{}.organization_id = {}",
            Self::default().table_name(),
            org.get()
        ))
    }
}

macro_rules! in_org {
    ($($table:ident),* $(,)?) => {
        $(
            impl InOrg for entity::$table::Entity {
                fn organization_id() -> Self::Column {
                    entity::$table::Column::OrganizationId
                }
            }
        )*
    };
}

in_org!(
    access_entry,
    api_idempotency,
    api_key,
    assist_model,
    assist_setting,
    assist_suggestion,
    assist_suggestion_set,
    attachment,
    audit_event,
    blocked_sender,
    canned_reply,
    channel,
    chat_blocked_visitor,
    conversation,
    conversation_alias,
    conversation_read,
    customer,
    customer_email,
    deletion_receipt,
    draft,
    invitation,
    knowledge_article,
    knowledge_category,
    knowledge_setting,
    knowledge_variant,
    membership,
    message,
    notification,
    order_connector,
    organization_deletion,
    outbox,
    privacy_reminder,
    privacy_request,
    processing_purpose,
    report_fact,
    retention_rule,
    retention_run,
    retention_setting,
    saved_view,
    session,
    sla_setting,
    tag,
    webhook_delivery,
    webhook_endpoint,
    webhook_inbound,
);
