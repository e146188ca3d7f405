//! Two agents answering at once: the reply form carries the id of the newest message the agent
//! saw (`seen`); when a customer message newer than that arrived meanwhile, the server does
//! not send but shows the form again — text kept, the new message on the page, a notice and a
//! *Send anyway* button — so sending asks once for confirmation, with or without JavaScript.
//! (`assets/js/writing.js` shows the notice as soon as the message arrives.)

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::message;
use crate::orgs::OrgId;

/// The `seen` field of a form: a message id, or 0 (an older page, a script: no check).
pub fn parse_seen(value: &str) -> Option<i64> {
    value.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

/// Did a customer message newer than `seen` arrive in the conversation?
pub async fn newer_inbound(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    seen: i64,
) -> Result<bool, DbErr> {
    let newer: Option<i64> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("inbound"))
        .filter(message::Column::Id.gt(seen))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(newer.is_some())
}

#[cfg(test)]
mod tests {
    use super::parse_seen;

    #[test]
    fn seen_is_a_positive_message_id_or_nothing() {
        assert_eq!(parse_seen("42"), Some(42));
        assert_eq!(parse_seen(""), None);
        assert_eq!(parse_seen("0"), None);
        assert_eq!(parse_seen("x"), None);
    }
}
