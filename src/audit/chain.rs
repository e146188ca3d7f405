//! The chain's write side: locking the head, appending a row, and removing rows while
//! anchoring the gaps they leave. Every function here runs inside the caller's transaction,
//! after [`lock_head`].

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Actor, ChainKey, Entry, GENESIS};
use crate::db::InOrg;
use crate::db::entity::{audit_anchor, audit_event, audit_head};
use crate::orgs::OrgId;

/// The id of the one head row.
pub(super) const HEAD: i64 = 1;
/// Rows read per page while walking the chain.
const PAGE: u64 = 1000;
/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

/// Which entries a removal takes.
#[derive(Clone, Copy, Debug)]
pub enum Removal {
    /// An organization's entries older than the cutoff (retention).
    OlderThan { org: OrgId, cutoff: DateTime<Utc> },
    /// Every entry of an organization (its purge).
    Organization(OrgId),
    /// The entries under no organization (failed logins of unknown addresses, refused API
    /// keys) older than the cutoff (`LETHE_INSTANCE_AUDIT_DAYS`, the cleanup job).
    InstanceOlderThan { cutoff: DateTime<Utc> },
}

impl Removal {
    fn reason(self) -> &'static str {
        match self {
            Removal::OlderThan { .. } => "retention",
            Removal::Organization(_) => "organization purge",
            Removal::InstanceOlderThan { .. } => "instance retention",
        }
    }

    fn select(self) -> sea_orm::Select<audit_event::Entity> {
        match self {
            Removal::OlderThan { org, cutoff } => {
                audit_event::Entity::find_in(org).filter(audit_event::Column::OccurredAt.lt(cutoff))
            }
            Removal::Organization(org) => audit_event::Entity::find_in(org),
            Removal::InstanceOlderThan { cutoff } => audit_event::Entity::find()
                .filter(audit_event::Column::OrganizationId.is_null())
                .filter(audit_event::Column::OccurredAt.lt(cutoff)),
        }
    }

    fn takes(self, row: &audit_event::Model) -> bool {
        match self {
            Removal::OlderThan { org, cutoff } => {
                row.organization_id == Some(org) && row.occurred_at < cutoff
            }
            Removal::Organization(org) => row.organization_id == Some(org),
            Removal::InstanceOlderThan { cutoff } => {
                row.organization_id.is_none() && row.occurred_at < cutoff
            }
        }
    }
}

/// Locks the head row for the rest of the transaction and returns it. The first statement is
/// a write, so SQLite takes its write lock right away (waiting out another process's append
/// within the busy timeout) and PostgreSQL locks the row until commit.
pub async fn lock_head(db: &impl ConnectionTrait) -> Result<audit_head::Model, DbErr> {
    let locked = audit_head::Entity::update_many()
        .col_expr(
            audit_head::Column::LastId,
            Expr::col(audit_head::Column::LastId),
        )
        .filter(audit_head::Column::Id.eq(HEAD))
        .exec(db)
        .await?;
    let head = if locked.rows_affected == 1 {
        audit_head::Entity::find_by_id(HEAD).one(db).await?
    } else {
        None
    };
    // Recreating a removed head would hide the removal: refuse, and let `lethe audit verify`
    // say what is wrong.
    head.ok_or_else(|| {
        DbErr::Custom("the audit log's head row is missing; run `lethe audit verify`".into())
    })
}

/// How a row names member `id` (what the MAC covers).
pub fn actor_ref(id: i64) -> String {
    format!("user:{id}")
}

/// Records (or updates) the address of member `id` for the audit log's pages.
async fn remember_actor(db: &impl ConnectionTrait, id: i64, email: &str) -> Result<(), DbErr> {
    use crate::db::entity::audit_actor;
    use sea_orm::sea_query::OnConflict;
    audit_actor::Entity::insert(audit_actor::ActiveModel {
        user_id: sea_orm::Set(id),
        email: sea_orm::Set(email.to_owned()),
        updated_at: sea_orm::Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(audit_actor::Column::UserId)
            .update_columns([audit_actor::Column::Email, audit_actor::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Forgets the address of member `id` (they left): their rows keep `user:<id>` only, and the
/// chain still verifies.
pub async fn forget_actor(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    use crate::db::entity::audit_actor;
    audit_actor::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Appends one row after the head and moves the head to it.
pub async fn append(
    db: &impl ConnectionTrait,
    key: &ChainKey,
    head: &mut audit_head::Model,
    entry: Entry<'_>,
) -> Result<audit_event::Model, DbErr> {
    let (actor_user_id, actor) = match &entry.actor {
        // The chain covers a pseudonymous id; the address goes beside it, outside the chain,
        // so it can be erased when the member leaves (src/orgs/leaving.rs).
        // A qualifier after the address (" (API key lethe_…)") stays in the row.
        Actor::User { id, email } => {
            let (address, qualifier) = match email.split_once(" (") {
                Some((address, rest)) => (address, format!(" ({rest}")),
                None => (email.as_str(), String::new()),
            };
            remember_actor(db, *id, address).await?;
            (Some(*id), format!("{}{qualifier}", actor_ref(*id)))
        }
        Actor::Anonymous => (None, "anonymous".to_owned()),
        Actor::System(name) => (None, format!("system:{name}")),
    };
    // Stored timestamps are compared after a round trip through both databases: keep
    // microseconds only.
    let occurred_at = Utc::now().trunc_subsecs(6);
    let mut row = audit_event::Model {
        id: 0,
        organization_id: entry.org,
        occurred_at,
        actor_user_id,
        actor,
        action: entry.action.to_owned(),
        target: entry.target,
        ip: entry.client.and_then(|c| c.ip.clone()),
        user_agent: entry.client.and_then(|c| c.user_agent.clone()),
        details: entry.details.to_string(),
        prev_hash: head.last_hash.clone(),
        hash: String::new(),
    };
    row.hash = key.row(&row);
    let inserted = audit_event::ActiveModel {
        organization_id: Set(row.organization_id),
        occurred_at: Set(row.occurred_at),
        actor_user_id: Set(row.actor_user_id),
        actor: Set(row.actor),
        action: Set(row.action),
        target: Set(row.target),
        ip: Set(row.ip),
        user_agent: Set(row.user_agent),
        details: Set(row.details),
        prev_hash: Set(row.prev_hash),
        hash: Set(row.hash),
        ..Default::default()
    }
    .insert(db)
    .await?;
    move_head(db, key, head, inserted.id, &inserted.hash).await?;
    Ok(inserted)
}

/// Points the head at row `last_id` (whose MAC is `last_hash`), with the head's own MAC.
pub async fn move_head(
    db: &impl ConnectionTrait,
    key: &ChainKey,
    head: &mut audit_head::Model,
    last_id: i64,
    last_hash: &str,
) -> Result<(), DbErr> {
    let mac = key.head(last_id, last_hash);
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::LastId, Expr::val(last_id))
        .col_expr(audit_head::Column::LastHash, Expr::val(last_hash))
        .col_expr(audit_head::Column::Mac, Expr::val(Some(mac.clone())))
        .filter(audit_head::Column::Id.eq(HEAD))
        .exec(db)
        .await?;
    head.last_id = last_id;
    head.last_hash = last_hash.to_owned();
    head.mac = Some(mac);
    Ok(())
}

/// How many rows the removal would take.
pub async fn count(db: &impl ConnectionTrait, removal: &Removal) -> Result<u64, DbErr> {
    removal.select().count(db).await
}

/// Removes the rows the removal selects. For every run of removed rows, the first kept row
/// after it gets an anchor: the hash it chains to and the hash of the kept row before the run
/// (an anchor already on a removed row, or on a row whose gap grows, is folded in). The caller
/// has appended a kept row last, so every run has a kept row after it.
pub async fn remove_anchored(
    db: &impl ConnectionTrait,
    key: &ChainKey,
    removal: &Removal,
) -> Result<u64, DbErr> {
    let first: Option<i64> = removal
        .select()
        .select_only()
        .column_as(audit_event::Column::Id.min(), "id")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let Some(first) = first else {
        return Ok(0);
    };
    // The kept row just before the first removed one.
    let mut kept_hash = audit_event::Entity::find()
        .filter(audit_event::Column::Id.lt(first))
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map_or_else(|| GENESIS.to_owned(), |row| row.hash);
    let anchors: HashMap<i64, audit_anchor::Model> = audit_anchor::Entity::find()
        .filter(audit_anchor::Column::RowId.gte(first))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.row_id, a))
        .collect();

    let mut removed_ids: Vec<i64> = Vec::new();
    let mut new_anchors: Vec<audit_anchor::Model> = Vec::new();
    let mut gap = 0i64;
    let mut last_id = first - 1;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(last_id))
            .order_by_asc(audit_event::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        last_id = last.id;
        for row in page {
            let folded = anchors.get(&row.id).map_or(0, |a| a.removed);
            if removal.takes(&row) {
                gap += 1 + folded;
                removed_ids.push(row.id);
                continue;
            }
            if gap > 0 {
                let mut anchor = audit_anchor::Model {
                    row_id: row.id,
                    prev_hash: row.prev_hash.clone(),
                    kept_hash: kept_hash.clone(),
                    removed: gap + folded,
                    reason: removal.reason().to_owned(),
                    mac: None,
                };
                anchor.mac = Some(key.anchor(&anchor));
                new_anchors.push(anchor);
            }
            kept_hash = row.hash;
            gap = 0;
        }
    }

    // Anchors on removed rows, and the ones being replaced, go; the new ones are written.
    let mut stale: Vec<i64> = removed_ids.clone();
    stale.extend(new_anchors.iter().map(|a| a.row_id));
    for chunk in stale.chunks(CHUNK) {
        audit_anchor::Entity::delete_many()
            .filter(audit_anchor::Column::RowId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    for anchor in new_anchors {
        audit_anchor::ActiveModel {
            row_id: Set(anchor.row_id),
            prev_hash: Set(anchor.prev_hash),
            kept_hash: Set(anchor.kept_hash),
            removed: Set(anchor.removed),
            reason: Set(anchor.reason),
            mac: Set(anchor.mac),
        }
        .insert(db)
        .await?;
    }
    let mut removed = 0;
    for chunk in removed_ids.chunks(CHUNK) {
        removed += audit_event::Entity::delete_many()
            .filter(audit_event::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(removed)
}
