//! Triage (issue 15): snoozing and spam.
//!
//! - `conversations.snoozed_until`: while the status is `snoozed`, when the conversation comes
//!   back (NULL: when the customer answers); `conversations.woke_at`: it came back from a snooze
//!   and nobody has touched it since (the inbox marks it).
//! - Spam is the status `spam`; `closed_at` holds when it was marked, so the retention
//!   category `spam` counts from there.
//! - `blocked_senders`: an address or a whole domain whose mail goes straight to spam, per
//!   organization. An address is personal data: export and erasure reach it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    SnoozedUntil,
    WokeAt,
}

#[derive(DeriveIden)]
enum BlockedSenders {
    Table,
    Id,
    OrganizationId,
    Pattern,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [Conversations::SnoozedUntil, Conversations::WokeAt] {
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
                    .name("ix_conversations_snoozed_until")
                    .table(Conversations::Table)
                    .col(Conversations::SnoozedUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BlockedSenders::Table)
                    .col(big_pk_auto(BlockedSenders::Id))
                    .col(big_integer(BlockedSenders::OrganizationId))
                    .col(string(BlockedSenders::Pattern))
                    .col(timestamp_with_time_zone(BlockedSenders::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blocked_senders_organization")
                            .from(BlockedSenders::Table, BlockedSenders::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_blocked_senders_pattern")
                    .table(BlockedSenders::Table)
                    .col(BlockedSenders::OrganizationId)
                    .col(BlockedSenders::Pattern)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BlockedSenders::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_conversations_snoozed_until")
                    .table(Conversations::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Conversations::WokeAt, Conversations::SnoozedUntil] {
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
