//! The chat channel (issue 16): a channel row of kind `chat` beside the mail channels.
//!
//! - `channels.kind`: `mail` (every channel before this) or `chat`.
//! - `channels.chat_token`: the public token in the widget's URL (`/chat/{token}.js`); NULL for
//!   mail channels. Unlike the inbound token it is no secret: it sits in the shop's pages.
//! - `channels.chat_settings`: the widget's settings as JSON (allowed origins, colour,
//!   greeting and labels per language, privacy notice); empty for mail channels.
//! - `conversations.chat_visitor_key`: the SHA-256 of the visitor id the widget created in the
//!   browser, so the visitor finds their conversation again; NULL for every other
//!   conversation. The key goes with the conversation (erasure, retention, anonymization).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Channels {
    Table,
    Kind,
    ChatToken,
    ChatSettings,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    ChannelId,
    ChatVisitorKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(string(Channels::Kind).default("mail"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(string_null(Channels::ChatToken))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(text(Channels::ChatSettings).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_channels_chat_token")
                    .table(Channels::Table)
                    .col(Channels::ChatToken)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(string_null(Conversations::ChatVisitorKey))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_conversations_chat_visitor")
                    .table(Conversations::Table)
                    .col(Conversations::ChatVisitorKey)
                    .col(Conversations::ChannelId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_conversations_chat_visitor")
                    .table(Conversations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .drop_column(Conversations::ChatVisitorKey)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_channels_chat_token")
                    .table(Channels::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Channels::ChatSettings, Channels::ChatToken, Channels::Kind] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Channels::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
