//! The purposes for which an organization processes its customers' data, each with its legal
//! basis under Art. 6(1) GDPR (src/privacy/purposes.rs): set by admins at `/settings/privacy`,
//! given in every customer export. No rows: Lethe's defaults apply.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProcessingPurposes {
    Table,
    Id,
    OrganizationId,
    Position,
    Purpose,
    LegalBases,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcessingPurposes::Table)
                    .col(big_pk_auto(ProcessingPurposes::Id))
                    .col(big_integer(ProcessingPurposes::OrganizationId))
                    .col(integer(ProcessingPurposes::Position))
                    .col(text(ProcessingPurposes::Purpose))
                    .col(string(ProcessingPurposes::LegalBases))
                    .col(timestamp_with_time_zone(ProcessingPurposes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_processing_purposes_organization")
                            .from(
                                ProcessingPurposes::Table,
                                ProcessingPurposes::OrganizationId,
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
                    .name("ix_processing_purposes_organization")
                    .table(ProcessingPurposes::Table)
                    .col(ProcessingPurposes::OrganizationId)
                    .col(ProcessingPurposes::Position)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessingPurposes::Table).to_owned())
            .await
    }
}
