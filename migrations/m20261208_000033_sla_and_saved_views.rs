//! SLA targets and saved views (issue 15).
//!
//! - `sla_settings`: one row per organization that set targets: its calendar (time zone,
//!   business hours, holidays) and targets as JSON (src/sla/calendar.rs reads it back), and
//!   when it last changed. No customer data.
//! - `conversations`: the due times computed from the conversation's creation
//!   (`first_response_due_at`, `resolution_due_at`), when the first agent reply was written
//!   (`first_responded_at`), the next deadline still open (`sla_next_due_at`, what the inbox
//!   sorts and filters by), when the admins were warned of a coming breach (one column per
//!   target) and when the due times were last computed (`sla_computed_at`, so a settings
//!   change is applied in bounded batches). Timestamps only.
//! - `saved_views`: an inbox filter with a name, its creator's own or shared with the team
//!   (src/inbox/views.rs). Its text query is written by an agent and may name a customer:
//!   erasure removes the views that mention an erased customer's address.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    OrganizationId,
    FirstResponseDueAt,
    ResolutionDueAt,
    FirstRespondedAt,
    SlaNextDueAt,
    FirstResponseWarnedAt,
    ResolutionWarnedAt,
    SlaComputedAt,
}

#[derive(DeriveIden)]
enum SavedViews {
    Table,
    Id,
    OrganizationId,
    UserId,
    Name,
    Shared,
    Query,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SlaSettings {
    Table,
    OrganizationId,
    Settings,
    UpdatedAt,
}

const COLUMNS: [Conversations; 7] = [
    Conversations::FirstResponseDueAt,
    Conversations::ResolutionDueAt,
    Conversations::FirstRespondedAt,
    Conversations::SlaNextDueAt,
    Conversations::FirstResponseWarnedAt,
    Conversations::ResolutionWarnedAt,
    Conversations::SlaComputedAt,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_conversations_sla_next_due")
                    .table(Conversations::Table)
                    .col(Conversations::OrganizationId)
                    .col(Conversations::SlaNextDueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SlaSettings::Table)
                    .col(big_integer(SlaSettings::OrganizationId).primary_key())
                    .col(text(SlaSettings::Settings))
                    .col(timestamp_with_time_zone(SlaSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sla_settings_organization")
                            .from(SlaSettings::Table, SlaSettings::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SavedViews::Table)
                    .col(big_pk_auto(SavedViews::Id))
                    .col(big_integer(SavedViews::OrganizationId))
                    .col(big_integer(SavedViews::UserId))
                    .col(string(SavedViews::Name))
                    .col(boolean(SavedViews::Shared))
                    .col(text(SavedViews::Query))
                    .col(timestamp_with_time_zone(SavedViews::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saved_views_organization")
                            .from(SavedViews::Table, SavedViews::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saved_views_user")
                            .from(SavedViews::Table, SavedViews::UserId)
                            .to(Alias::new("users"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saved_views_organization_user")
                    .table(SavedViews::Table)
                    .col(SavedViews::OrganizationId)
                    .col(SavedViews::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saved_views_user")
                    .table(SavedViews::Table)
                    .col(SavedViews::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SavedViews::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SlaSettings::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_conversations_sla_next_due")
                    .table(Conversations::Table)
                    .to_owned(),
            )
            .await?;
        for column in COLUMNS.into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
