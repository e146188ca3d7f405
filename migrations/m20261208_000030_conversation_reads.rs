//! Unread (issue 15): when each agent last opened each conversation. A conversation with a
//! customer message newer than that (or never opened) is unread for the agent. Rows go with
//! their conversation and with the member (src/records, src/orgs).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConversationReads {
    Table,
    OrganizationId,
    UserId,
    ConversationId,
    ReadAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConversationReads::Table)
                    .col(big_integer(ConversationReads::OrganizationId))
                    .col(big_integer(ConversationReads::UserId))
                    .col(big_integer(ConversationReads::ConversationId))
                    // None: marked unread by the agent.
                    .col(timestamp_with_time_zone_null(ConversationReads::ReadAt))
                    .primary_key(
                        Index::create()
                            .col(ConversationReads::UserId)
                            .col(ConversationReads::ConversationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_reads_organization")
                            .from(ConversationReads::Table, ConversationReads::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_conversation_reads_conversation")
                    .table(ConversationReads::Table)
                    .col(ConversationReads::ConversationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConversationReads::Table).to_owned())
            .await
    }
}
