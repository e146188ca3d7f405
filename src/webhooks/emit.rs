//! Events in: a feature that changes something calls [`emit`] inside its own transaction,
//! and one delivery row per subscribed, active endpoint is written with it, so the event is
//! queued exactly when the change is committed (and never when it is rolled back).
//!
//! Payloads follow Standard Webhooks' shape, `{"type", "timestamp", "data"}`. `data` holds ids
//! and fields that name nobody (status, direction, counts); an endpoint that chose "include
//! message content" also gets `data.content` (subject, text) — never for a restricted
//! customer or one whose objection stopped non-essential processing
//! (`crate::privacy::objection::content_withheld`), checked here and again when the delivery is sent ([`super::deliver`]).
//!
//! Rows carry the conversation and customer they are about, so erasure and retention delete
//! them with the customer's data ([`forget_customers`], [`forget_conversations`]).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::{Value, json};

use super::types::{EventSet, EventType};
use crate::db::InOrg;
use crate::db::entity::{conversation, message, webhook_delivery, webhook_endpoint};
use crate::orgs::OrgId;

/// Something that happened, as a feature reports it: ids only; [`emit`] looks up the rest.
#[derive(Clone, Debug)]
pub enum Event {
    ConversationCreated {
        conversation_id: i64,
    },
    MessageCreated {
        message_id: i64,
    },
    ConversationStatusChanged {
        conversation_id: i64,
    },
    ConversationAssigned {
        conversation_id: i64,
    },
    /// Conversations (`merged`, gone now) merged into `conversation_id`.
    ConversationMerged {
        conversation_id: i64,
        merged: Vec<i64>,
    },
    CustomerErased {
        customer_id: i64,
    },
    RetentionRunFinished {
        run_id: i64,
        counts: Value,
        failed: bool,
    },
    PrivacyRequestCreated {
        request_id: i64,
        kind: String,
        customer_id: Option<i64>,
        due_at: DateTime<Utc>,
    },
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::ConversationCreated { .. } => EventType::ConversationCreated,
            Event::MessageCreated { .. } => EventType::MessageCreated,
            Event::ConversationStatusChanged { .. } => EventType::ConversationStatusChanged,
            Event::ConversationAssigned { .. } => EventType::ConversationAssigned,
            Event::ConversationMerged { .. } => EventType::ConversationMerged,
            Event::CustomerErased { .. } => EventType::CustomerErased,
            Event::RetentionRunFinished { .. } => EventType::RetentionRunFinished,
            Event::PrivacyRequestCreated { .. } => EventType::PrivacyRequestCreated,
        }
    }
}

/// What a delivery row is about, and its payload's `data` with and without content.
struct Described {
    conversation_id: Option<i64>,
    customer_id: Option<i64>,
    data: Value,
    content: Option<Value>,
}

async fn describe(
    db: &impl ConnectionTrait,
    org: OrgId,
    event: &Event,
) -> Result<Option<Described>, DbErr> {
    let conversation_of = |id: i64| conversation::Entity::find_by_id_in(org, id).one(db);
    Ok(match event {
        Event::ConversationCreated { conversation_id } => {
            let Some(c) = conversation_of(*conversation_id).await? else {
                return Ok(None);
            };
            Some(Described {
                conversation_id: Some(c.id),
                customer_id: Some(c.customer_id),
                data: json!({
                    "conversation_id": c.id,
                    "customer_id": c.customer_id,
                    "channel_id": c.channel_id,
                    "status": c.status,
                    "created_at": c.created_at,
                }),
                content: Some(json!({ "subject": c.subject })),
            })
        }
        Event::MessageCreated { message_id } => {
            let Some(m) = message::Entity::find_by_id_in(org, *message_id)
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            let Some(c) = conversation_of(m.conversation_id).await? else {
                return Ok(None);
            };
            Some(Described {
                conversation_id: Some(c.id),
                customer_id: Some(c.customer_id),
                data: json!({
                    "message_id": m.id,
                    "conversation_id": c.id,
                    "customer_id": c.customer_id,
                    "direction": m.direction,
                    "kind": m.kind,
                    "created_at": m.created_at,
                }),
                content: Some(json!({ "subject": m.subject, "text": m.text_body })),
            })
        }
        Event::ConversationStatusChanged { conversation_id }
        | Event::ConversationAssigned { conversation_id } => {
            let Some(c) = conversation_of(*conversation_id).await? else {
                return Ok(None);
            };
            let data = match event {
                Event::ConversationAssigned { .. } => json!({
                    "conversation_id": c.id,
                    "assignee_id": c.assignee_id,
                }),
                _ => json!({ "conversation_id": c.id, "status": c.status }),
            };
            Some(Described {
                conversation_id: Some(c.id),
                customer_id: Some(c.customer_id),
                data,
                content: None,
            })
        }
        Event::ConversationMerged {
            conversation_id,
            merged,
        } => {
            let Some(c) = conversation_of(*conversation_id).await? else {
                return Ok(None);
            };
            Some(Described {
                conversation_id: Some(c.id),
                customer_id: Some(c.customer_id),
                data: json!({
                    "conversation_id": c.id,
                    "customer_id": c.customer_id,
                    "merged_conversation_ids": merged,
                }),
                content: None,
            })
        }
        // The id of a record that no longer exists: the row is not about anyone any more,
        // so the erasure it reports does not delete it.
        Event::CustomerErased { customer_id } => Some(Described {
            conversation_id: None,
            customer_id: None,
            data: json!({ "customer_id": customer_id }),
            content: None,
        }),
        Event::RetentionRunFinished {
            run_id,
            counts,
            failed,
        } => Some(Described {
            conversation_id: None,
            customer_id: None,
            data: json!({ "run_id": run_id, "counts": counts, "failed": failed }),
            content: None,
        }),
        Event::PrivacyRequestCreated {
            request_id,
            kind,
            customer_id,
            due_at,
        } => Some(Described {
            conversation_id: None,
            customer_id: *customer_id,
            data: json!({
                "request_id": request_id,
                "kind": kind,
                "customer_id": customer_id,
                "due_at": due_at,
            }),
            content: None,
        }),
    })
}

/// A new `webhook-id`.
pub fn new_webhook_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// Queues `event` for every active endpoint of `org` that subscribed to it, in the caller's
/// transaction. Returns how many deliveries were queued.
pub async fn emit(db: &impl ConnectionTrait, org: OrgId, event: Event) -> Result<usize, DbErr> {
    let event_type = event.event_type();
    let endpoints: Vec<webhook_endpoint::Model> = webhook_endpoint::Entity::find_in(org)
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| EventSet::from_stored(&e.events).contains(&event_type))
        .collect();
    if endpoints.is_empty() {
        return Ok(0);
    }
    let Some(described) = describe(db, org, &event).await? else {
        return Ok(0);
    };
    let restricted = match described.customer_id {
        Some(id) => crate::privacy::objection::content_withheld(db, org, id).await?,
        None => false,
    };
    let now = Utc::now();
    let webhook_id = new_webhook_id();
    for endpoint in &endpoints {
        let mut data = described.data.clone();
        if endpoint.include_content
            && !restricted
            && let (Some(content), Some(object)) = (&described.content, data.as_object_mut())
        {
            object.insert("content".into(), content.clone());
        }
        let payload = json!({
            "type": event_type.as_str(),
            "timestamp": now,
            "data": data,
        });
        webhook_delivery::ActiveModel {
            organization_id: Set(org),
            endpoint_id: Set(endpoint.id),
            webhook_id: Set(webhook_id.clone()),
            event_type: Set(event_type.as_str().to_owned()),
            conversation_id: Set(described.conversation_id),
            customer_id: Set(described.customer_id),
            payload: Set(payload.to_string()),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_attempt_at: Set(None),
            response_status: Set(None),
            latency_ms: Set(None),
            response_excerpt: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(endpoints.len())
}

/// Deletes every delivery (queued or logged) about these customers of `org`.
pub async fn forget_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_ids: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<webhook_delivery::Entity>(
        db,
        org,
        webhook_delivery::Column::CustomerId,
        customer_ids,
    )
    .await
}

/// Deletes every delivery (queued or logged) about these conversations of `org`.
pub async fn forget_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<webhook_delivery::Entity>(
        db,
        org,
        webhook_delivery::Column::ConversationId,
        conversation_ids,
    )
    .await
}

/// Deletes the deliveries of `message.created` about one message of a conversation that are
/// still pending: the message was taken back before it was sent (undo send,
/// src/inbox/undo.rs). What was already delivered stays in the log.
pub async fn forget_pending_message(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
) -> Result<u64, DbErr> {
    let pending = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Entity::org_check(org))
        .filter(webhook_delivery::Column::ConversationId.eq(conversation_id))
        .filter(webhook_delivery::Column::EventType.eq(EventType::MessageCreated.as_str()))
        .filter(webhook_delivery::Column::Status.eq("pending"))
        .all(db)
        .await?;
    let about: Vec<i64> = pending
        .into_iter()
        .filter(|d| {
            serde_json::from_str::<Value>(&d.payload)
                .is_ok_and(|p| p["data"]["message_id"].as_i64() == Some(message_id))
        })
        .map(|d| d.id)
        .collect();
    if about.is_empty() {
        return Ok(0);
    }
    Ok(webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Id.is_in(about))
        .exec(db)
        .await?
        .rows_affected)
}
