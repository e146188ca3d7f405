//! The knowledge base and help centre (issue 17): categories, articles (a stable slug, internal
//! or public, draft or published) with one Markdown variant per language, and each
//! organization's knowledge settings (its help-centre slug and title, its default language,
//! and the version counter every change bumps so that each node's article search index knows
//! when to rebuild).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KnowledgeCategories {
    Table,
    Id,
    OrganizationId,
    Name,
    Position,
}

#[derive(DeriveIden)]
enum KnowledgeArticles {
    Table,
    Id,
    OrganizationId,
    Slug,
    CategoryId,
    Public,
    Published,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KnowledgeVariants {
    Table,
    Id,
    OrganizationId,
    ArticleId,
    Language,
    Title,
    Body,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KnowledgeSettings {
    Table,
    OrganizationId,
    HelpSlug,
    HelpTitle,
    DefaultLanguage,
    Version,
}

fn org_key(
    name: &str,
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Alias::new("organizations"), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeCategories::Table)
                    .col(big_pk_auto(KnowledgeCategories::Id))
                    .col(big_integer(KnowledgeCategories::OrganizationId))
                    .col(string(KnowledgeCategories::Name))
                    .col(integer(KnowledgeCategories::Position).default(0))
                    .foreign_key(&mut org_key(
                        "fk_knowledge_categories_organization",
                        KnowledgeCategories::Table,
                        KnowledgeCategories::OrganizationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_knowledge_categories_name")
                    .table(KnowledgeCategories::Table)
                    .col(KnowledgeCategories::OrganizationId)
                    .col(KnowledgeCategories::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeArticles::Table)
                    .col(big_pk_auto(KnowledgeArticles::Id))
                    .col(big_integer(KnowledgeArticles::OrganizationId))
                    .col(string(KnowledgeArticles::Slug))
                    .col(big_integer_null(KnowledgeArticles::CategoryId))
                    .col(boolean(KnowledgeArticles::Public).default(false))
                    .col(boolean(KnowledgeArticles::Published).default(false))
                    .col(timestamp_with_time_zone(KnowledgeArticles::CreatedAt))
                    .col(timestamp_with_time_zone(KnowledgeArticles::UpdatedAt))
                    .foreign_key(&mut org_key(
                        "fk_knowledge_articles_organization",
                        KnowledgeArticles::Table,
                        KnowledgeArticles::OrganizationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_articles_category")
                            .from(KnowledgeArticles::Table, KnowledgeArticles::CategoryId)
                            .to(KnowledgeCategories::Table, KnowledgeCategories::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_knowledge_articles_slug")
                    .table(KnowledgeArticles::Table)
                    .col(KnowledgeArticles::OrganizationId)
                    .col(KnowledgeArticles::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_knowledge_articles_category")
                    .table(KnowledgeArticles::Table)
                    .col(KnowledgeArticles::CategoryId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeVariants::Table)
                    .col(big_pk_auto(KnowledgeVariants::Id))
                    .col(big_integer(KnowledgeVariants::OrganizationId))
                    .col(big_integer(KnowledgeVariants::ArticleId))
                    .col(string(KnowledgeVariants::Language))
                    .col(string(KnowledgeVariants::Title))
                    .col(text(KnowledgeVariants::Body))
                    .col(timestamp_with_time_zone(KnowledgeVariants::UpdatedAt))
                    .foreign_key(&mut org_key(
                        "fk_knowledge_variants_organization",
                        KnowledgeVariants::Table,
                        KnowledgeVariants::OrganizationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_variants_article")
                            .from(KnowledgeVariants::Table, KnowledgeVariants::ArticleId)
                            .to(KnowledgeArticles::Table, KnowledgeArticles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_knowledge_variants_language")
                    .table(KnowledgeVariants::Table)
                    .col(KnowledgeVariants::ArticleId)
                    .col(KnowledgeVariants::Language)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_knowledge_variants_organization")
                    .table(KnowledgeVariants::Table)
                    .col(KnowledgeVariants::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeSettings::Table)
                    .col(big_integer(KnowledgeSettings::OrganizationId).primary_key())
                    .col(string_null(KnowledgeSettings::HelpSlug))
                    .col(string(KnowledgeSettings::HelpTitle).default(""))
                    .col(string(KnowledgeSettings::DefaultLanguage).default("en"))
                    .col(big_integer(KnowledgeSettings::Version).default(0))
                    .foreign_key(&mut org_key(
                        "fk_knowledge_settings_organization",
                        KnowledgeSettings::Table,
                        KnowledgeSettings::OrganizationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_knowledge_settings_help_slug")
                    .table(KnowledgeSettings::Table)
                    .col(KnowledgeSettings::HelpSlug)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            KnowledgeSettings::Table.into_iden(),
            KnowledgeVariants::Table.into_iden(),
            KnowledgeArticles::Table.into_iden(),
            KnowledgeCategories::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
