//! Bcc on replies (issue 14, composing): the blind copies an agent sent a reply to, kept on the
//! message like `to_addresses` and `cc_addresses` (comma-separated) so the thread, the export,
//! rectification and anonymization reach them; they never go into a header.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    BccAddresses,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(text(Messages::BccAddresses).default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::BccAddresses)
                    .to_owned(),
            )
            .await
    }
}
