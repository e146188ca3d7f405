//! The optional language model of an organization (issue 17, src/assist/llm/): an
//! OpenAI-compatible endpoint the merchant names — its base URL, model and key (sealed under
//! the instance key) — switched off until an admin switches it on. One row per organization.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssistModels {
    Table,
    Id,
    OrganizationId,
    BaseUrl,
    Model,
    ApiKey,
    Enabled,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AssistModels::Table)
                    .col(big_pk_auto(AssistModels::Id))
                    .col(big_integer(AssistModels::OrganizationId))
                    .col(string(AssistModels::BaseUrl))
                    .col(string(AssistModels::Model))
                    .col(text_null(AssistModels::ApiKey))
                    .col(boolean(AssistModels::Enabled).default(false))
                    .col(timestamp_with_time_zone(AssistModels::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assist_models_organization")
                            .from(AssistModels::Table, AssistModels::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_assist_models_organization")
                    .table(AssistModels::Table)
                    .col(AssistModels::OrganizationId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssistModels::Table).to_owned())
            .await
    }
}
