//! Notifications (issue 15): what happened to whom in which conversation (assigned, the
//! customer answered, mentioned in a note), and each user's choice of which kinds also come
//! by mail. A row holds ids and times only, never customer text: the page joins the
//! conversation's subject when it shows the list. Rows go with their conversation
//! (src/records) and with the member (src/orgs/leaving.rs).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    OrganizationId,
    UserId,
    Kind,
    ConversationId,
    ActorId,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    NotifyMailAssigned,
    NotifyMailAnswered,
    NotifyMailMentioned,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(big_pk_auto(Notifications::Id))
                    .col(big_integer(Notifications::OrganizationId))
                    .col(big_integer(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 20))
                    .col(big_integer(Notifications::ConversationId))
                    // None: nobody of the team (the customer wrote).
                    .col(big_integer_null(Notifications::ActorId))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notifications_organization")
                            .from(Notifications::Table, Notifications::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_user")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::OrganizationId)
                    .col(Notifications::ReadAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_conversation")
                    .table(Notifications::Table)
                    .col(Notifications::ConversationId)
                    .to_owned(),
            )
            .await?;
        // One column per ALTER: SQLite adds a single column per statement.
        for column in [
            boolean(Users::NotifyMailAssigned).default(true).to_owned(),
            boolean(Users::NotifyMailAnswered).default(false).to_owned(),
            boolean(Users::NotifyMailMentioned).default(true).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Users::NotifyMailAssigned,
            Users::NotifyMailAnswered,
            Users::NotifyMailMentioned,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await
    }
}
