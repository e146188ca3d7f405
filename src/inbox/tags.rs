//! Tags: named labels of an organization, put on conversations by name (the tag is created on
//! first use) and taken off again.
//!
//! Forms of the conversation page: `POST /conversations/{id}/tags` (add) and
//! `POST /conversations/{id}/tags/{tag_id}/remove`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};
use serde::Deserialize;

use super::queries;
use crate::db::InOrg;
use crate::db::entity::{conversation, conversation_tag, tag};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// A tag's name: 1 to 50 characters, trimmed, no control characters.
pub struct TagName(String);

impl TagName {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("tags.name_required");
        }
        if trimmed.chars().count() > 50 || trimmed.chars().any(char::is_control) {
            return Err("tags.name_invalid");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every tag of the organization, by name.
pub async fn all(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<tag::Model>, AppError> {
    Ok(tag::Entity::find_in(org)
        .order_by_asc(tag::Column::Name)
        .all(db)
        .await?)
}

/// The tags of each of these conversations (of this organization), by name.
pub async fn of_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
) -> Result<HashMap<i64, Vec<tag::Model>>, AppError> {
    if conversation_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let links = conversation_tag::Entity::find()
        .filter(conversation_tag::Column::ConversationId.is_in(conversation_ids.to_vec()))
        .all(db)
        .await?;
    let tag_ids: Vec<i64> = links.iter().map(|l| l.tag_id).collect();
    let tags: HashMap<i64, tag::Model> = tag::Entity::find_in(org)
        .filter(tag::Column::Id.is_in(tag_ids))
        .order_by_asc(tag::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut out: HashMap<i64, Vec<tag::Model>> = HashMap::new();
    for link in links {
        if let Some(found) = tags.get(&link.tag_id) {
            out.entry(link.conversation_id)
                .or_default()
                .push(found.clone());
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}

/// The organization's tag with this name, created if it does not exist yet.
pub async fn find_or_create(
    db: &impl ConnectionTrait,
    org: OrgId,
    name: &TagName,
) -> Result<tag::Model, AppError> {
    let find = || {
        tag::Entity::find_in(org)
            .filter(tag::Column::Name.eq(name.as_str()))
            .one(db)
    };
    if let Some(found) = find().await? {
        return Ok(found);
    }
    let inserted = tag::ActiveModel {
        organization_id: Set(org),
        name: Set(name.as_str().to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(created) => Ok(created),
        // Someone created it at the same moment.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            find().await?.ok_or(AppError::NotFound)
        }
        Err(error) => Err(error.into()),
    }
}

/// The organization's tag with this id.
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    tag_id: i64,
) -> Result<Option<tag::Model>, AppError> {
    Ok(tag::Entity::find_by_id_in(org, tag_id).one(db).await?)
}

/// Puts a tag (of `org`, checked by the caller) on conversations of `org` (ids of another
/// organization are left alone); nothing where it is there already, also when someone adds it
/// at the same moment. Their SLA targets are recomputed once, for all of them.
pub async fn attach(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
    tag_id: i64,
) -> Result<(), AppError> {
    let ours: Vec<i64> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::Id.is_in(conversation_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if ours.is_empty() {
        return Ok(());
    }
    conversation_tag::Entity::insert_many(ours.iter().map(|id| conversation_tag::ActiveModel {
        conversation_id: Set(*id),
        tag_id: Set(tag_id),
    }))
    .on_conflict_do_nothing_on([
        conversation_tag::Column::ConversationId,
        conversation_tag::Column::TagId,
    ])
    .exec(db)
    .await?;
    // A tag rule may change their SLA targets.
    crate::sla::compute(db, org, &ours).await?;
    Ok(())
}

/// Takes a tag off conversations of `org`.
pub async fn detach(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
    tag_id: i64,
) -> Result<(), AppError> {
    conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::ConversationId.is_in(conversation_ids.iter().copied()))
        .filter(conversation_tag::Column::TagId.eq(tag_id))
        .filter(
            conversation_tag::Column::ConversationId.in_subquery(
                Query::select()
                    .column(conversation::Column::Id)
                    .from(conversation::Entity)
                    .and_where(conversation::Column::OrganizationId.eq(org))
                    .to_owned(),
            ),
        )
        .exec(db)
        .await?;
    crate::sla::compute(db, org, conversation_ids).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct AddTagForm {
    name: String,
}

/// Puts the tag named `name` (created on first use) on a conversation of `org` (checked by
/// the caller); putting it on twice changes nothing.
pub async fn link(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    name: &TagName,
) -> Result<tag::Model, AppError> {
    let tag = find_or_create(db, org, name).await?;
    attach(db, org, &[conversation_id], tag.id).await?;
    Ok(tag)
}

/// Takes the tag `tag_id` of `org` off a conversation of `org` (checked by the caller);
/// another organization's tag is "not found".
pub async fn unlink(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    tag_id: i64,
) -> Result<(), AppError> {
    tag::Entity::find_by_id_in(org, tag_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    detach(db, org, &[conversation_id], tag_id).await
}

pub async fn add(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<AddTagForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let name = TagName::parse(&form.name).map_err(AppError::BadRequest)?;
    link(&state.db, scope.org(), id, &name).await?;
    queries::publish(&state, scope.org(), id);
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.tag_added",
    ))
}

pub async fn remove(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, tag_id) = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    unlink(&state.db, scope.org(), id, tag_id).await?;
    queries::publish(&state, scope.org(), id);
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.tag_removed",
    ))
}
