//! `drafts`: the reply an agent is writing in a conversation, saved as they type
//! (src/inbox/drafts.rs) — one per agent and conversation, with its To, Cc and Bcc. Customer
//! data like a message: exported, erased and anonymized with its conversation, and removed by
//! the retention category `unsent_drafts`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Drafts {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    UserId,
    ToAddresses,
    CcAddresses,
    BccAddresses,
    TextBody,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Drafts::Table)
                    .col(big_pk_auto(Drafts::Id))
                    .col(big_integer(Drafts::OrganizationId))
                    .col(big_integer(Drafts::ConversationId))
                    .col(big_integer(Drafts::UserId))
                    .col(text(Drafts::ToAddresses))
                    .col(text(Drafts::CcAddresses))
                    .col(text(Drafts::BccAddresses))
                    .col(text(Drafts::TextBody))
                    .col(timestamp_with_time_zone(Drafts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_drafts_organization")
                            .from(Drafts::Table, Drafts::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_drafts_conversation")
                            .from(Drafts::Table, Drafts::ConversationId)
                            .to(Alias::new("conversations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_drafts_user")
                            .from(Drafts::Table, Drafts::UserId)
                            .to(Alias::new("users"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_drafts_conversation_user")
                    .table(Drafts::Table)
                    .col(Drafts::ConversationId)
                    .col(Drafts::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_drafts_updated")
                    .table(Drafts::Table)
                    .col(Drafts::OrganizationId)
                    .col(Drafts::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_drafts_user")
                    .table(Drafts::Table)
                    .col(Drafts::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Drafts::Table).to_owned())
            .await
    }
}
