//! Keying a chain written before the chain key existed (a head without a MAC): the chain is
//! checked the old way, with unkeyed SHA-256, and only if it holds is every row's hash
//! replaced by its MAC, every anchor's and the head's MAC written — in one transaction, under
//! the head lock. A chain that fails the old check is left as it is, for `lethe audit verify`
//! to report.
//!
//! Only the process that applies [`super::KEYING_MIGRATION`] calls this (`AppState::open`):
//! a head without a MAC later on is a broken chain, never one to key — otherwise whoever can
//! write the database could clear the MAC, recompute the unkeyed chain over forged rows, and
//! have the next start bless them.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use super::chain::{lock_head, move_head};
use super::mac::timestamp;
use super::{ChainKey, GENESIS};
use crate::db::entity::{audit_anchor, audit_event};

/// What [`rekey`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rekeyed {
    /// The chain was keyed already.
    AlreadyKeyed,
    /// The chain's rows were re-keyed.
    Keyed { rows: u64 },
    /// The unkeyed chain was broken at this row: nothing was changed.
    Broken { row_id: i64 },
}

/// Keys the chain if it is not keyed yet (see the module documentation).
pub async fn rekey(db: &DatabaseConnection, key: &ChainKey) -> Result<Rekeyed, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut head = lock_head(&txn).await?;
    if head.mac.is_some() {
        return Ok(Rekeyed::AlreadyKeyed);
    }
    let mut anchors: HashMap<i64, audit_anchor::Model> = audit_anchor::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| (a.row_id, a))
        .collect();
    // The old hash the next row chains to, and the MAC that replaces it.
    let mut old_prev = GENESIS.to_owned();
    let mut new_prev = GENESIS.to_owned();
    let mut last_id = 0;
    let mut rows = 0;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(last_id))
            .order_by_asc(audit_event::Column::Id)
            .limit(1000)
            .all(&txn)
            .await?;
        if page.is_empty() {
            break;
        }
        for mut row in page {
            last_id = row.id;
            if unkeyed_hash(&row) != row.hash {
                return Ok(Rekeyed::Broken { row_id: row.id });
            }
            if row.prev_hash == old_prev {
                row.prev_hash.clone_from(&new_prev);
            } else {
                // After a recorded gap the row keeps chaining to the removed row's old hash;
                // its anchor now names the kept row's MAC.
                match anchors.get_mut(&row.id) {
                    Some(a) if a.prev_hash == row.prev_hash && a.kept_hash == old_prev => {
                        a.kept_hash.clone_from(&new_prev);
                    }
                    _ => return Ok(Rekeyed::Broken { row_id: row.id }),
                }
            }
            old_prev = std::mem::take(&mut row.hash);
            row.hash = key.row(&row);
            new_prev.clone_from(&row.hash);
            audit_event::Entity::update_many()
                .col_expr(audit_event::Column::PrevHash, Expr::val(row.prev_hash))
                .col_expr(audit_event::Column::Hash, Expr::val(row.hash))
                .filter(audit_event::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
            rows += 1;
        }
    }
    if head.last_id != last_id || head.last_hash != old_prev {
        return Ok(Rekeyed::Broken {
            row_id: head.last_id,
        });
    }
    for anchor in anchors.into_values() {
        let mac = key.anchor(&anchor);
        audit_anchor::Entity::update_many()
            .col_expr(audit_anchor::Column::KeptHash, Expr::val(anchor.kept_hash))
            .col_expr(audit_anchor::Column::Mac, Expr::val(Some(mac)))
            .filter(audit_anchor::Column::RowId.eq(anchor.row_id))
            .exec(&txn)
            .await?;
    }
    move_head(&txn, key, &mut head, last_id, &new_prev).await?;
    txn.commit().await?;
    Ok(Rekeyed::Keyed { rows })
}

/// The hash rows carried before the chain was keyed: SHA-256 of the same fields.
fn unkeyed_hash(row: &audit_event::Model) -> String {
    let mut hasher = Sha256::new();
    let fields = [
        row.prev_hash.clone(),
        row.organization_id
            .map(|v| v.to_string())
            .unwrap_or_default(),
        timestamp(row.occurred_at),
        row.actor_user_id.map(|v| v.to_string()).unwrap_or_default(),
        row.actor.clone(),
        row.action.clone(),
        row.target.clone(),
        row.ip.clone().unwrap_or_default(),
        row.user_agent.clone().unwrap_or_default(),
        row.details.clone(),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}
