//! Indexes on the foreign-key columns that had none. Deleting a parent row makes the database
//! look for the rows that refer to it; without an index that is a scan of the whole child
//! table per deleted row — a retention run or erasure deleting a million messages would scan
//! the outbox a million times.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, column)
const INDEXES: &[(&str, &str, &str)] = &[
    ("ix_outbox_message", "outbox", "message_id"),
    ("ix_outbox_channel", "outbox", "channel_id"),
    ("ix_conversations_channel", "conversations", "channel_id"),
    ("ix_conversations_assignee", "conversations", "assignee_id"),
    ("ix_messages_author", "messages", "author_id"),
    ("ix_sessions_organization", "sessions", "organization_id"),
    ("ix_password_resets_user", "password_resets", "user_id"),
    (
        "ix_attachments_organization",
        "attachments",
        "organization_id",
    ),
    (
        "ix_privacy_reminders_request",
        "privacy_reminders",
        "request_id",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(*name)
                        .table(Alias::new(*table))
                        .col(Alias::new(*column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
