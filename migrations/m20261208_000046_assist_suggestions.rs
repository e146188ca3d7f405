//! Suggestions (issue 17, src/assist/suggest/): what Lethe offered an agent for a customer's
//! newest message — a canned reply, a knowledge article, or the reply that closed a similar
//! conversation — with its text as offered, whether it was shown (or only kept, in shadow
//! mode) and what the agent's reply did with it. Customer data: exported, erased and removed
//! with its conversation, and the retention category `assist_suggestions`. The organization's
//! choice (off, shadow, shown) is `assist_settings`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssistSuggestions {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    MessageId,
    Kind,
    SourceId,
    Title,
    Text,
    Shown,
    Outcome,
    CreatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum AssistSettings {
    Table,
    Id,
    OrganizationId,
    Suggestions,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AssistSuggestions::Table)
                    .col(big_pk_auto(AssistSuggestions::Id))
                    .col(big_integer(AssistSuggestions::OrganizationId))
                    .col(big_integer(AssistSuggestions::ConversationId))
                    .col(big_integer(AssistSuggestions::MessageId))
                    .col(string(AssistSuggestions::Kind))
                    .col(big_integer(AssistSuggestions::SourceId))
                    .col(string(AssistSuggestions::Title))
                    .col(text(AssistSuggestions::Text))
                    .col(boolean(AssistSuggestions::Shown))
                    .col(string_null(AssistSuggestions::Outcome))
                    .col(timestamp_with_time_zone(AssistSuggestions::CreatedAt))
                    .col(timestamp_with_time_zone_null(AssistSuggestions::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assist_suggestions_organization")
                            .from(AssistSuggestions::Table, AssistSuggestions::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_assist_suggestions_conversation")
                    .table(AssistSuggestions::Table)
                    .col(AssistSuggestions::ConversationId)
                    .col(AssistSuggestions::MessageId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_assist_suggestions_org_created")
                    .table(AssistSuggestions::Table)
                    .col(AssistSuggestions::OrganizationId)
                    .col(AssistSuggestions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssistSettings::Table)
                    .col(big_pk_auto(AssistSettings::Id))
                    .col(big_integer(AssistSettings::OrganizationId))
                    .col(string(AssistSettings::Suggestions).default("off"))
                    .col(timestamp_with_time_zone(AssistSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assist_settings_organization")
                            .from(AssistSettings::Table, AssistSettings::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_assist_settings_organization")
                    .table(AssistSettings::Table)
                    .col(AssistSettings::OrganizationId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssistSuggestions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AssistSettings::Table).to_owned())
            .await
    }
}
