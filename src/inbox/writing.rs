//! What the conversation page shows around the reply box for the agent who writes: the id of
//! the newest message they see (for src/inbox/collision.rs), whether a newer customer message
//! stopped their reply, which of their replies can still be undone (src/inbox/undo.rs), and
//! who else is on the conversation (src/inbox/presence.rs). Drafts are src/inbox/drafts.rs.

use std::collections::HashSet;

use chrono::Utc;

use super::presence::{Others, Room};
use super::undo;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::AppError;

#[derive(Default)]
pub struct WritingView {
    /// The newest message on the page (0: none).
    pub seen: i64,
    /// The reply came back: a customer wrote after the agent opened the page.
    pub newer_message: bool,
    /// Replies still waiting for their first attempt (their author may undo them).
    pub undoable: HashSet<i64>,
    /// How long a reply waits before it is sent, in seconds.
    pub undo_seconds: i64,
    /// The other agents on the conversation now.
    pub others: Others,
}

impl WritingView {
    pub fn can_undo(&self, message_id: &i64) -> bool {
        self.undoable.contains(message_id)
    }
}

pub async fn view(
    state: &AppState,
    scope: &TenantScope,
    conversation_id: i64,
    message_ids: &[i64],
    newer_message: bool,
) -> Result<WritingView, AppError> {
    let org = scope.org();
    Ok(WritingView {
        seen: message_ids.iter().copied().max().unwrap_or_default(),
        newer_message,
        undoable: undo::undoable(&state.db, org, message_ids, Utc::now()).await?,
        undo_seconds: state.config.undo_send_seconds,
        others: state.presence.others(
            Room {
                org,
                conversation_id,
            },
            scope.user_id(),
        ),
    })
}
