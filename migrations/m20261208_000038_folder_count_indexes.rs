//! Indexes for the inbox's folder counts and lists (issue 15's figure): the grouped counts by
//! status and assignee, and by status and channel, are answered from these indexes alone
//! (SQLite read every open conversation's row for them: 0.13 s and 0.09 s at 100k
//! conversations, against 0.01 s each here), and the Mine, Unassigned and channel folders list
//! in their order from them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    OrganizationId,
    Status,
    AssigneeId,
    ChannelId,
    LastActivityAt,
    Id,
}

const BY_ASSIGNEE: &str = "ix_conversations_status_assignee";
const BY_CHANNEL: &str = "ix_conversations_status_channel";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in [
            (BY_ASSIGNEE, Conversations::AssigneeId),
            (BY_CHANNEL, Conversations::ChannelId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Conversations::Table)
                        .col(Conversations::OrganizationId)
                        .col(Conversations::Status)
                        .col(column)
                        .col(Conversations::LastActivityAt)
                        .col(Conversations::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [BY_CHANNEL, BY_ASSIGNEE] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Conversations::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
