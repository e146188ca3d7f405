//! Signatures (issue 14, composing): an agent's own signature (`users.signature`, set at
//! `/account`), a channel's signature (`channels.signature`) and where the channel puts the
//! agent's signature (`channels.agent_signature`: `below` the channel's, `above` it, or
//! `none`). Placeholders are filled when a reply is queued; the sent text is stored on the
//! message as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Signature,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Signature,
    AgentSignature,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(text(Users::Signature).default(""))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite alters one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(text(Channels::Signature).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(text(Channels::AgentSignature).default("below"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .drop_column(Channels::AgentSignature)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .drop_column(Channels::Signature)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::Signature)
                    .to_owned(),
            )
            .await
    }
}
