//! Retention (src/retention/): one rule per organization and data category, the schedule and
//! run lock per organization, the history of runs, and legal hold plus anonymization markers
//! on conversations, messages and customers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum RetentionRules {
    Table,
    Id,
    OrganizationId,
    Category,
    AfterDays,
    Action,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum RetentionSettings {
    Table,
    OrganizationId,
    Schedule,
    RunningSince,
    ScheduleCheckedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum RetentionRuns {
    Table,
    Id,
    OrganizationId,
    Trigger,
    DryRun,
    StartedAt,
    FinishedAt,
    Counts,
    Error,
}

#[derive(DeriveIden, Clone)]
enum Conversations {
    Table,
    LegalHoldReason,
    AnonymizedAt,
}

#[derive(DeriveIden, Clone)]
enum Customers {
    Table,
    LegalHoldReason,
    AnonymizedAt,
}

#[derive(DeriveIden, Clone)]
enum Messages {
    Table,
    AnonymizedAt,
}

fn org_fk(table: impl IntoIden + Clone + 'static, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("organization_id"))
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
                    .table(RetentionRules::Table)
                    .col(big_pk_auto(RetentionRules::Id))
                    .col(big_integer(RetentionRules::OrganizationId))
                    .col(string(RetentionRules::Category))
                    .col(integer(RetentionRules::AfterDays))
                    .col(string(RetentionRules::Action))
                    .col(timestamp_with_time_zone(RetentionRules::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        RetentionRules::Table,
                        "fk_retention_rules_organization",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_retention_rules_org_category")
                    .table(RetentionRules::Table)
                    .col(RetentionRules::OrganizationId)
                    .col(RetentionRules::Category)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RetentionSettings::Table)
                    .col(big_integer(RetentionSettings::OrganizationId).primary_key())
                    .col(string(RetentionSettings::Schedule))
                    .col(timestamp_with_time_zone_null(
                        RetentionSettings::RunningSince,
                    ))
                    .col(timestamp_with_time_zone_null(
                        RetentionSettings::ScheduleCheckedAt,
                    ))
                    .col(timestamp_with_time_zone(RetentionSettings::CreatedAt))
                    .foreign_key(&mut org_fk(
                        RetentionSettings::Table,
                        "fk_retention_settings_organization",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RetentionRuns::Table)
                    .col(big_pk_auto(RetentionRuns::Id))
                    .col(big_integer(RetentionRuns::OrganizationId))
                    .col(string(RetentionRuns::Trigger))
                    .col(boolean(RetentionRuns::DryRun))
                    .col(timestamp_with_time_zone(RetentionRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(RetentionRuns::FinishedAt))
                    .col(text(RetentionRuns::Counts))
                    .col(text_null(RetentionRuns::Error))
                    .foreign_key(&mut org_fk(
                        RetentionRuns::Table,
                        "fk_retention_runs_organization",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_retention_runs_org")
                    .table(RetentionRuns::Table)
                    .col(RetentionRuns::OrganizationId)
                    .col(RetentionRuns::Id)
                    .to_owned(),
            )
            .await?;
        // One column per ALTER: SQLite adds a single column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(text_null(Conversations::LegalHoldReason))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(timestamp_with_time_zone_null(Conversations::AnonymizedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(text_null(Customers::LegalHoldReason))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(timestamp_with_time_zone_null(Customers::AnonymizedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(timestamp_with_time_zone_null(Messages::AnonymizedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (
                Messages::Table.into_iden(),
                Messages::AnonymizedAt.into_iden(),
            ),
            (
                Customers::Table.into_iden(),
                Customers::AnonymizedAt.into_iden(),
            ),
            (
                Customers::Table.into_iden(),
                Customers::LegalHoldReason.into_iden(),
            ),
            (
                Conversations::Table.into_iden(),
                Conversations::AnonymizedAt.into_iden(),
            ),
            (
                Conversations::Table.into_iden(),
                Conversations::LegalHoldReason.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        for table in [
            RetentionRuns::Table.into_iden(),
            RetentionSettings::Table.into_iden(),
            RetentionRules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
