//! The backup schedule an owner sets at `/settings/backups` (src/backup/schedule.rs): one row
//! for the install, used when the operator has not set `LETHE_BACKUP_SCHEDULE`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BackupSchedule {
    Table,
    Id,
    Frequency,
    Hour,
    Weekday,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BackupSchedule::Table)
                    .if_not_exists()
                    .col(integer(BackupSchedule::Id).primary_key())
                    .col(string(BackupSchedule::Frequency))
                    .col(integer(BackupSchedule::Hour))
                    .col(integer(BackupSchedule::Weekday))
                    .col(timestamp_with_time_zone(BackupSchedule::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BackupSchedule::Table).to_owned())
            .await
    }
}
