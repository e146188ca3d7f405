//! Indexes on the foreign-key columns that had none, and partial indexes on what is held. Deleting a parent row makes the database
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

/// Partial indexes (the same SQL in both databases): the few held rows, found at once by the
/// retention runner's per-batch hold check.
const PARTIAL: &[(&str, &str)] = &[
    (
        "ix_conversations_held",
        "CREATE INDEX ix_conversations_held ON conversations (organization_id) WHERE legal_hold_reason IS NOT NULL",
    ),
    (
        "ix_customers_held",
        "CREATE INDEX ix_customers_held ON customers (organization_id) WHERE legal_hold_reason IS NOT NULL",
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
        let db = manager.get_connection();
        for (_, sql) in PARTIAL {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in PARTIAL {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
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
