//! The audit chain becomes keyed (src/audit/mac.rs): anchors and the head carry a MAC of their
//! own. Both columns are empty until the first process that holds the instance key re-keys
//! the chain (`audit::rekey`), which it does once, after checking the unkeyed chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditAnchors {
    Table,
    Mac,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Mac,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditAnchors::Table)
                    .add_column(text_null(AuditAnchors::Mac))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHead::Table)
                    .add_column(text_null(AuditHead::Mac))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditAnchors::Table)
                    .drop_column(AuditAnchors::Mac)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHead::Table)
                    .drop_column(AuditHead::Mac)
                    .to_owned(),
            )
            .await
    }
}
