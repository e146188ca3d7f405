//! Blocked chat visitors (issue 16): a chat marked as spam may block its visitor id, so that
//! the widget's further messages from that browser are refused. Only the id's SHA-256 is kept
//! (as on the conversation); the entry names no person and outlives the spam it was made for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChatBlockedVisitors {
    Table,
    Id,
    OrganizationId,
    VisitorKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatBlockedVisitors::Table)
                    .col(big_pk_auto(ChatBlockedVisitors::Id))
                    .col(big_integer(ChatBlockedVisitors::OrganizationId))
                    .col(string(ChatBlockedVisitors::VisitorKey))
                    .col(timestamp_with_time_zone(ChatBlockedVisitors::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chat_blocked_visitors_organization")
                            .from(
                                ChatBlockedVisitors::Table,
                                ChatBlockedVisitors::OrganizationId,
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
                    .name("ux_chat_blocked_visitors_key")
                    .table(ChatBlockedVisitors::Table)
                    .col(ChatBlockedVisitors::OrganizationId)
                    .col(ChatBlockedVisitors::VisitorKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChatBlockedVisitors::Table).to_owned())
            .await
    }
}
