//! Notifications (issue 15): an agent is told when a conversation is assigned to them by
//! someone else (conversation page, bulk action, REST API), when a customer answers in a
//! conversation assigned to them (mail ingest), and when a team member mentions them in an
//! internal note (`@name`, [`mentions`]). Nobody is told about their own action.
//!
//! - In the app: a bell in the page header with the unread count, `/notifications` lists them
//!   (mark one or all read with plain forms; opening the conversation marks its
//!   notifications read). Live: the `/events` stream carries a `notification` event with the
//!   new count to the user's own open pages (`assets/js/app.js` updates the bell).
//! - By mail, per kind as each user chose at `/account` ([`mail`]): never customer content.
//! - Data ([`store`]): user, kind, conversation id, actor id, times — no customer text. Rows
//!   go with their conversation (`records`: erasure, retention, organization purge), with a
//!   member who leaves (`orgs::leaving`), and read ones after [`KEEP_READ_DAYS`] days
//!   (`jobs::cleanup`).

pub mod mail;
pub mod mentions;
pub mod routes;
pub mod store;

use chrono::Utc;
use sea_orm::{ColumnTrait, DbErr, QueryFilter, QuerySelect};

use super::events::UserEvent;
use crate::db::InOrg;
use crate::db::entity::{conversation, membership};
use crate::orgs::OrgId;
use crate::state::AppState;

/// Read notifications are removed after this many days by the cleanup job.
pub const KEEP_READ_DAYS: i64 = 30;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A conversation was assigned to the user by someone else.
    Assigned,
    /// The customer wrote in a conversation assigned to the user.
    Answered,
    /// A team member mentioned the user in an internal note.
    Mentioned,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Assigned, Kind::Answered, Kind::Mentioned];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assigned => "assigned",
            Kind::Answered => "answered",
            Kind::Mentioned => "mentioned",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// The list's sentence, with `{actor}`.
    pub fn line_key(self) -> &'static str {
        match self {
            Kind::Assigned => "notifications.line.assigned",
            Kind::Answered => "notifications.line.answered",
            Kind::Mentioned => "notifications.line.mentioned",
        }
    }

    /// The `/account` check box's label.
    pub fn preference_key(self) -> &'static str {
        match self {
            Kind::Assigned => "notifications.pref.assigned",
            Kind::Answered => "notifications.pref.answered",
            Kind::Mentioned => "notifications.pref.mentioned",
        }
    }

    fn mail_subject_key(self) -> &'static str {
        match self {
            Kind::Assigned => "notifications.mail.assigned_subject",
            Kind::Answered => "notifications.mail.answered_subject",
            Kind::Mentioned => "notifications.mail.mentioned_subject",
        }
    }

    fn mail_body_key(self) -> &'static str {
        match self {
            Kind::Assigned => "notifications.mail.assigned_body",
            Kind::Answered => "notifications.mail.answered_body",
            Kind::Mentioned => "notifications.mail.mentioned_body",
        }
    }
}

/// Tells `users` that `kind` happened in a conversation of `org`, done by `actor` (None: the
/// customer): a row each, a live event to their open pages, a mail to those who want one.
/// The actor and anyone who is not a member of `org` are left out. Called after the change
/// is committed; a failure here is logged (by kind) and never undoes the change.
pub async fn notify(
    state: &AppState,
    org: OrgId,
    users: &[i64],
    kind: Kind,
    conversation_id: i64,
    actor: Option<i64>,
) {
    if let Err(error) = try_notify(state, org, users, kind, conversation_id, actor).await {
        tracing::error!(%error, kind = kind.as_str(), "notification not stored");
    }
}

async fn try_notify(
    state: &AppState,
    org: OrgId,
    users: &[i64],
    kind: Kind,
    conversation_id: i64,
    actor: Option<i64>,
) -> Result<(), DbErr> {
    let wanted: Vec<i64> = users
        .iter()
        .copied()
        .filter(|user| Some(*user) != actor)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut members: Vec<i64> = membership::Entity::find_in(org)
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::UserId.is_in(wanted))
        .into_tuple()
        .all(&state.db)
        .await?;
    members.sort_unstable();
    members.dedup();
    if members.is_empty() {
        return Ok(());
    }
    store::insert(
        &state.db,
        org,
        &members,
        kind,
        conversation_id,
        actor,
        Utc::now(),
    )
    .await?;
    for user in &members {
        publish_count(state, org, *user).await;
    }
    let actor_name = match actor {
        Some(actor) => super::queries::user_names(&state.db, vec![actor])
            .await
            .ok()
            .and_then(|mut names| names.remove(&actor)),
        None => None,
    };
    mail::send(state, org, &members, kind, conversation_id, actor_name);
    Ok(())
}

/// Sends `user`'s unread count in `org` to their open pages.
pub async fn publish_count(state: &AppState, org: OrgId, user: i64) {
    match store::unread_count(&state.db, org, user).await {
        Ok(unread) => state.events.publish_to_user(UserEvent {
            org,
            user_id: user,
            unread,
        }),
        Err(error) => tracing::warn!(%error, "notification count not read"),
    }
}

/// The conversations `ids` of `org` were assigned to `assignee` by `actor`.
pub async fn assigned(state: &AppState, org: OrgId, ids: &[i64], assignee: i64, actor: i64) {
    for id in ids {
        notify(state, org, &[assignee], Kind::Assigned, *id, Some(actor)).await;
    }
}

/// The customer's mail arrived in conversation `id` of `org`: its assignee (if any, and not
/// in spam) is told.
pub async fn customer_answered(state: &AppState, org: OrgId, id: i64) {
    let found = conversation::Entity::find_by_id_in(org, id)
        .select_only()
        .column(conversation::Column::AssigneeId)
        .column(conversation::Column::Status)
        .into_tuple::<(Option<i64>, String)>()
        .one(&state.db)
        .await;
    match found {
        Ok(Some((Some(assignee), status))) if status != "spam" => {
            notify(state, org, &[assignee], Kind::Answered, id, None).await;
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "notification: conversation not read"),
    }
}

/// A note with `text` by `actor` was added to conversation `id`: the members it mentions are
/// told.
pub async fn mentioned(state: &AppState, org: OrgId, id: i64, text: &str, actor: i64) {
    let members = match mentions::team(&state.db, org).await {
        Ok(members) => members,
        Err(error) => {
            tracing::error!(%error, "notification: team not read");
            return;
        }
    };
    let users: Vec<i64> = mentions::mentioned(text, &members).into_iter().collect();
    notify(state, org, &users, Kind::Mentioned, id, Some(actor)).await;
}
