//! Merged conversations (issue 15): each conversation merged away leaves an alias, its old id
//! and subject token pointing at the conversation it went into, so that its old URL redirects
//! and later mail carrying its token threads into the merged one. Ids and tokens only (no
//! personal data); the aliases go with their target conversation (src/records).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConversationAliases {
    Table,
    Id,
    OrganizationId,
    OldConversationId,
    Token,
    ConversationId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConversationAliases::Table)
                    .col(big_pk_auto(ConversationAliases::Id))
                    .col(big_integer(ConversationAliases::OrganizationId))
                    .col(big_integer(ConversationAliases::OldConversationId))
                    .col(string(ConversationAliases::Token))
                    // The conversation it was merged into.
                    .col(big_integer(ConversationAliases::ConversationId))
                    .col(timestamp_with_time_zone(ConversationAliases::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_aliases_organization")
                            .from(
                                ConversationAliases::Table,
                                ConversationAliases::OrganizationId,
                            )
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_conversation_aliases_old")
                    .table(ConversationAliases::Table)
                    .col(ConversationAliases::OrganizationId)
                    .col(ConversationAliases::OldConversationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_conversation_aliases_token")
                    .table(ConversationAliases::Table)
                    .col(ConversationAliases::OrganizationId)
                    .col(ConversationAliases::Token)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_conversation_aliases_conversation")
                    .table(ConversationAliases::Table)
                    .col(ConversationAliases::ConversationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConversationAliases::Table).to_owned())
            .await
    }
}
