//! The knowledge base's checked types and its queries. Every change goes through a function
//! here that takes the write transaction and bumps the organization's knowledge version in it
//! ([`bump_version`]), so each node's article index sees the change at its next search.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::db::InOrg;
use crate::db::entity::{
    knowledge_article as article, knowledge_category as category, knowledge_setting as setting,
    knowledge_variant as variant,
};
use crate::orgs::OrgId;
pub use crate::search::Lang;

/// A URL slug: 1–80 of `a-z`, `0-9` and `-`, not starting or ending with `-`. Article slugs
/// and help-centre slugs are both this type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let ok = (1..=80).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages an article can be written in, by code.
pub fn parse_lang(code: &str) -> Option<Lang> {
    Lang::from_code(code.trim())
}

/// The organization's knowledge settings (defaults when it never saved any).
pub async fn settings(db: &impl ConnectionTrait, org: OrgId) -> Result<setting::Model, DbErr> {
    Ok(setting::Entity::find_by_id(org)
        .one(db)
        .await?
        .unwrap_or(setting::Model {
            organization_id: org,
            help_slug: None,
            help_title: String::new(),
            default_language: Lang::En.code().to_owned(),
            version: 0,
        }))
}

/// The settings of the help centre at `slug` (the public pages' only way in).
pub async fn by_help_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<setting::Model>, DbErr> {
    setting::Entity::find()
        .filter(setting::Column::HelpSlug.eq(slug))
        .one(db)
        .await
}

async fn ensure_settings(db: &impl ConnectionTrait, org: OrgId) -> Result<(), DbErr> {
    setting::Entity::insert(setting::ActiveModel {
        organization_id: Set(org),
        help_slug: Set(None),
        help_title: Set(String::new()),
        default_language: Set(Lang::En.code().to_owned()),
        version: Set(0),
    })
    .on_conflict(
        OnConflict::column(setting::Column::OrganizationId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Counts one more change of the organization's knowledge base (in the caller's transaction).
pub async fn bump_version(db: &impl ConnectionTrait, org: OrgId) -> Result<(), DbErr> {
    ensure_settings(db, org).await?;
    setting::Entity::update_in(org)
        .col_expr(
            setting::Column::Version,
            Expr::col(setting::Column::Version).add(1),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Saves the help centre's slug, title and default language (and bumps the version).
pub async fn save_settings(
    db: &impl ConnectionTrait,
    org: OrgId,
    slug: Option<&Slug>,
    title: &str,
    default_language: Lang,
) -> Result<(), DbErr> {
    ensure_settings(db, org).await?;
    setting::Entity::update_in(org)
        .col_expr(
            setting::Column::HelpSlug,
            slug.map(|s| s.as_str().to_owned()).into(),
        )
        .col_expr(setting::Column::HelpTitle, title.to_owned().into())
        .col_expr(
            setting::Column::DefaultLanguage,
            default_language.code().to_owned().into(),
        )
        .exec(db)
        .await?;
    bump_version(db, org).await
}

/// True when another organization's help centre has this slug.
pub async fn help_slug_taken(
    db: &impl ConnectionTrait,
    org: OrgId,
    slug: &Slug,
) -> Result<bool, DbErr> {
    Ok(by_help_slug(db, slug.as_str())
        .await?
        .is_some_and(|s| s.organization_id != org))
}

/// The organization's categories, in order.
pub async fn categories(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<category::Model>, DbErr> {
    category::Entity::find_in(org)
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Name)
        .all(db)
        .await
}

pub async fn find_category(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<category::Model>, DbErr> {
    category::Entity::find_by_id_in(org, id).one(db).await
}

pub async fn create_category(
    db: &impl ConnectionTrait,
    org: OrgId,
    name: &str,
    position: i32,
) -> Result<category::Model, DbErr> {
    let created = category::ActiveModel {
        organization_id: Set(org),
        name: Set(name.to_owned()),
        position: Set(position),
        ..Default::default()
    }
    .insert(db)
    .await?;
    bump_version(db, org).await?;
    Ok(created)
}

/// Deletes a category; its articles stay, without a category.
pub async fn delete_category(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<(), DbErr> {
    article::Entity::update_in(org)
        .col_expr(article::Column::CategoryId, Option::<i64>::None.into())
        .filter(article::Column::CategoryId.eq(id))
        .exec(db)
        .await?;
    category::Entity::delete_in(org)
        .filter(category::Column::Id.eq(id))
        .exec(db)
        .await?;
    bump_version(db, org).await
}

/// An article and its variants by language code.
#[derive(Clone, Debug)]
pub struct Article {
    pub row: article::Model,
    pub variants: Vec<variant::Model>,
}

impl Article {
    /// The variant in `lang`, else in `fallback`, else the first one.
    pub fn variant(&self, lang: Option<Lang>, fallback: Lang) -> Option<&variant::Model> {
        let by = |l: Lang| self.variants.iter().find(|v| v.language == l.code());
        lang.and_then(by)
            .or_else(|| by(fallback))
            .or_else(|| self.variants.first())
    }

    pub fn languages(&self) -> Vec<Lang> {
        Lang::ALL
            .into_iter()
            .filter(|l| self.variants.iter().any(|v| v.language == l.code()))
            .collect()
    }

    /// Public and published: the help centre shows it.
    pub fn is_shown_publicly(&self) -> bool {
        self.row.public && self.row.published
    }
}

/// The organization's articles with their variants, by slug.
pub async fn articles(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<Article>, DbErr> {
    let rows = article::Entity::find_in(org)
        .order_by_asc(article::Column::Slug)
        .all(db)
        .await?;
    let mut variants: HashMap<i64, Vec<variant::Model>> = HashMap::new();
    for v in variant::Entity::find_in(org)
        .order_by_asc(variant::Column::Id)
        .all(db)
        .await?
    {
        variants.entry(v.article_id).or_default().push(v);
    }
    Ok(rows
        .into_iter()
        .map(|row| Article {
            variants: variants.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// One of the organization's articles; None for any other id.
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<Article>, DbErr> {
    let Some(row) = article::Entity::find_by_id_in(org, id).one(db).await? else {
        return Ok(None);
    };
    let variants = variant::Entity::lookup_in(org)
        .filter(variant::Column::ArticleId.eq(id))
        .order_by_asc(variant::Column::Id)
        .all(db)
        .await?;
    Ok(Some(Article { row, variants }))
}

/// The organization's article with this slug.
pub async fn find_by_slug(
    db: &impl ConnectionTrait,
    org: OrgId,
    slug: &str,
) -> Result<Option<Article>, DbErr> {
    let Some(row) = article::Entity::find_in(org)
        .filter(article::Column::Slug.eq(slug))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    find(db, org, row.id).await
}

/// True when another article of the organization has this slug.
pub async fn slug_taken(
    db: &impl ConnectionTrait,
    org: OrgId,
    slug: &Slug,
    except: Option<i64>,
) -> Result<bool, DbErr> {
    Ok(article::Entity::find_in(org)
        .filter(article::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .is_some_and(|a| Some(a.id) != except))
}

/// What an article form saves: the article's own fields and one language variant.
#[derive(Clone, Debug)]
pub struct ArticleInput {
    pub slug: Slug,
    pub category_id: Option<i64>,
    pub public: bool,
    pub published: bool,
    pub lang: Lang,
    pub title: String,
    pub body: String,
}

async fn save_variant(
    db: &impl ConnectionTrait,
    org: OrgId,
    article_id: i64,
    input: &ArticleInput,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    variant::Entity::insert(variant::ActiveModel {
        organization_id: Set(org),
        article_id: Set(article_id),
        language: Set(input.lang.code().to_owned()),
        title: Set(input.title.clone()),
        body: Set(input.body.clone()),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([variant::Column::ArticleId, variant::Column::Language])
            .update_columns([
                variant::Column::Title,
                variant::Column::Body,
                variant::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Creates an article with its first variant.
pub async fn create(
    db: &impl ConnectionTrait,
    org: OrgId,
    input: &ArticleInput,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let created = article::ActiveModel {
        organization_id: Set(org),
        slug: Set(input.slug.as_str().to_owned()),
        category_id: Set(input.category_id),
        public: Set(input.public),
        published: Set(input.published),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    save_variant(db, org, created.id, input, now).await?;
    bump_version(db, org).await?;
    Ok(created.id)
}

/// Updates an article and writes (or adds) the variant in the input's language.
pub async fn update(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
    input: &ArticleInput,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    article::Entity::update_in(org)
        .col_expr(article::Column::Slug, input.slug.as_str().to_owned().into())
        .col_expr(article::Column::CategoryId, input.category_id.into())
        .col_expr(article::Column::Public, input.public.into())
        .col_expr(article::Column::Published, input.published.into())
        .col_expr(article::Column::UpdatedAt, now.into())
        .filter(article::Column::Id.eq(id))
        .exec(db)
        .await?;
    save_variant(db, org, id, input, now).await?;
    bump_version(db, org).await
}

/// Deletes an article and all its variants.
pub async fn delete(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<(), DbErr> {
    variant::Entity::delete_in(org)
        .filter(variant::Column::ArticleId.eq(id))
        .exec(db)
        .await?;
    article::Entity::delete_in(org)
        .filter(article::Column::Id.eq(id))
        .exec(db)
        .await?;
    bump_version(db, org).await
}

/// Deletes every article, variant, category and the settings of an organization (its purge).
pub async fn purge(db: &impl ConnectionTrait, org: OrgId) -> Result<(), DbErr> {
    variant::Entity::delete_in(org).exec(db).await?;
    article::Entity::delete_in(org).exec(db).await?;
    category::Entity::delete_in(org).exec(db).await?;
    setting::Entity::delete_in(org).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(Slug::parse("returns-and-refunds").is_some());
        assert!(Slug::parse(" shop-2 ").is_some());
        for bad in ["", "-a", "a-", "Caps", "a b", "ü", &"a".repeat(81)] {
            assert!(Slug::parse(bad).is_none(), "{bad}");
        }
    }
}
