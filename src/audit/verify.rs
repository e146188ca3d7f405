//! Walking the chain (`lethe audit verify`): every row must hash to its stored hash and chain
//! to the row before it, or to the kept row before a recorded gap; the first row chains to
//! the genesis hash or to a recorded gap; the last row is the one the head names.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{GENESIS, row_hash};
use crate::db::entity::{audit_anchor, audit_event, audit_head};

/// The outcome of walking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { rows: u64 },
    Broken { row_id: i64, reason: &'static str },
}

/// Walks the whole chain in id order, in pages.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Verification, sea_orm::DbErr> {
    let head = audit_head::Entity::find_by_id(1).one(db).await?;
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
                let anchored = anchors
                    .get(&row.id)
                    .is_some_and(|a| a.prev_hash == row.prev_hash && a.kept_hash == expected_prev);
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
            if row_hash(&row) != row.hash {
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
