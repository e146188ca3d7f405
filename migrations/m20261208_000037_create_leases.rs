//! Several nodes on one database (issue 18): the `leases` table, where "one node at a time"
//! work (an IMAP channel's poll, an organization's retention run, a scheduled job) is taken by
//! name for a short time and renewed while it runs, and the outbox's claim columns, so that a
//! queued reply is sent by one node only. Neither holds customer data: lease names carry ids,
//! holders a random node id.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    ClaimedBy,
    ClaimedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .col(string(Leases::Name).primary_key())
                    .col(string(Leases::Holder))
                    .col(timestamp_with_time_zone(Leases::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(string_null(Outbox::ClaimedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(timestamp_with_time_zone_null(Outbox::ClaimedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Outbox::ClaimedUntil, Outbox::ClaimedBy] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Leases::Table).to_owned())
            .await
    }
}
