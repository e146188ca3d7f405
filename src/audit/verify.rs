//! Walking the chain (`lethe audit verify`): every row must carry the MAC of its content and
//! chain to the row before it, or to the kept row before a recorded gap whose anchor carries
//! its MAC; the first row chains to the genesis hash or to a recorded gap; the last row is the
//! one the head names, and the head carries its MAC. A [`Checkpoint`] taken earlier must
//! still be part of the chain.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::chain::HEAD;
use super::{ChainKey, GENESIS};
use crate::db::entity::{audit_anchor, audit_event, audit_head};

/// The outcome of walking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { rows: u64 },
    Broken { row_id: i64, reason: &'static str },
}

/// Walks the whole chain in id order, in pages.
pub async fn verify(
    db: &impl ConnectionTrait,
    key: &ChainKey,
) -> Result<Verification, sea_orm::DbErr> {
    let head = audit_head::Entity::find_by_id(HEAD).one(db).await?;
    let anchors: HashMap<i64, audit_anchor::Model> = audit_anchor::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.row_id, a))
        .collect();
    let mut expected_prev = GENESIS.to_owned();
    let mut last: Option<(i64, String)> = None;
    let mut rows = 0u64;
    loop {
        let after = last.as_ref().map_or(0, |(id, _)| *id);
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .limit(1000)
            .all(db)
            .await?;
        if page.is_empty() {
            break;
        }
        for row in page {
            if row.prev_hash != expected_prev {
                let anchored = anchors.get(&row.id).is_some_and(|a| {
                    a.prev_hash == row.prev_hash
                        && a.kept_hash == expected_prev
                        && a.mac.as_deref() == Some(key.anchor(a).as_str())
                });
                if !anchored {
                    return Ok(Verification::Broken {
                        row_id: row.id,
                        reason: if last.is_none() {
                            "the oldest rows before it were removed, and no pruning recorded it"
                        } else {
                            "a row before it was removed or altered"
                        },
                    });
                }
            }
            if key.row(&row) != row.hash {
                return Ok(Verification::Broken {
                    row_id: row.id,
                    reason: "its content was altered",
                });
            }
            expected_prev = row.hash.clone();
            last = Some((row.id, row.hash));
            rows += 1;
        }
    }
    let Some(head) = head else {
        return Ok(Verification::Broken {
            row_id: 0,
            reason: "the head record naming the newest row is missing",
        });
    };
    if head.mac.as_deref() != Some(key.head(head.last_id, &head.last_hash).as_str()) {
        return Ok(Verification::Broken {
            row_id: head.last_id,
            reason: "the head record naming the newest row was altered (or the chain was never keyed)",
        });
    }
    match last {
        None if head.last_id == 0 => Ok(Verification::Intact { rows }),
        Some((id, hash)) if id == head.last_id && hash == head.last_hash => {
            Ok(Verification::Intact { rows })
        }
        Some((id, _)) if id == head.last_id => Ok(Verification::Broken {
            row_id: id,
            reason: "it was replaced: the head records another hash for it",
        }),
        Some((id, _)) if id > head.last_id => Ok(Verification::Broken {
            row_id: id,
            reason: "rows were added after the newest row the head names",
        }),
        _ => Ok(Verification::Broken {
            row_id: head.last_id,
            reason: "the newest rows were removed: the chain ends before this row, which the head names",
        }),
    }
}

/// A position in the chain, kept outside the database (`lethe audit checkpoint`): the row the
/// head named and its MAC. A chain cut back to an older state, head and all, is consistent
/// in itself; only a checkpoint taken before the cut shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub row_id: i64,
    pub mac: String,
    pub taken_at: DateTime<Utc>,
}

/// The checkpoint of an intact chain; the verification that failed otherwise.
pub async fn checkpoint(
    db: &impl ConnectionTrait,
    key: &ChainKey,
) -> Result<Result<Checkpoint, Verification>, sea_orm::DbErr> {
    let verification = verify(db, key).await?;
    if !matches!(verification, Verification::Intact { .. }) {
        return Ok(Err(verification));
    }
    let head = audit_head::Entity::find_by_id(HEAD).one(db).await?;
    Ok(match head {
        Some(head) => Ok(Checkpoint {
            row_id: head.last_id,
            mac: head.last_hash,
            taken_at: Utc::now(),
        }),
        None => Err(Verification::Broken {
            row_id: 0,
            reason: "the head record naming the newest row is missing",
        }),
    })
}

/// [`verify`], and the chain still extends `checkpoint`: its row is there with the same MAC,
/// or it went in a recorded removal (the anchors, checked by [`verify`], account for every
/// gap) and the chain reaches past it.
pub async fn verify_checkpoint(
    db: &impl ConnectionTrait,
    key: &ChainKey,
    checkpoint: &Checkpoint,
) -> Result<Verification, sea_orm::DbErr> {
    let verification = verify(db, key).await?;
    if !matches!(verification, Verification::Intact { .. }) || checkpoint.row_id == 0 {
        return Ok(verification);
    }
    let row = audit_event::Entity::find_by_id(checkpoint.row_id)
        .one(db)
        .await?;
    match row {
        Some(row) if row.hash == checkpoint.mac => Ok(verification),
        Some(row) => Ok(Verification::Broken {
            row_id: row.id,
            reason: "the chain no longer extends the checkpoint: the row it names was replaced",
        }),
        None if in_recorded_gap(db, checkpoint.row_id).await? => Ok(verification),
        None => Ok(Verification::Broken {
            row_id: checkpoint.row_id,
            reason: "the chain was cut back to before the checkpoint",
        }),
    }
}

/// Whether row `id`, which is gone, went in a recorded removal: the first row after it does
/// not chain to the last row before it (a gap, which [`verify`] accepted only with an anchor
/// carrying its MAC). A chain cut back and then appended to chains straight on: no gap.
async fn in_recorded_gap(db: &impl ConnectionTrait, id: i64) -> Result<bool, sea_orm::DbErr> {
    let after = audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(id))
        .order_by_asc(audit_event::Column::Id)
        .one(db)
        .await?;
    let Some(after) = after else {
        return Ok(false);
    };
    let before = audit_event::Entity::find()
        .filter(audit_event::Column::Id.lt(id))
        .order_by_desc(audit_event::Column::Id)
        .one(db)
        .await?
        .map_or_else(|| GENESIS.to_owned(), |row| row.hash);
    Ok(after.prev_hash != before)
}
