//! Data subject requests and deletion receipts (src/privacy/).
//!
//! `privacy_requests` is the register of requests (access, erasure, rectification,
//! restriction, objection) with their deadline; `deletion_receipts` is the proof that an
//! erasure happened: counts per category, when and by whom, and nothing of the erased person
//! but the request's random reference.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum PrivacyRequests {
    Table,
    Id,
    OrganizationId,
    Kind,
    Reference,
    CustomerId,
    ReceivedAt,
    DueAt,
    Status,
    HandledBy,
    CompletedAt,
    Note,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum DeletionReceipts {
    Table,
    Id,
    OrganizationId,
    RequestId,
    CreatedAt,
    PerformedBy,
    Counts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PrivacyRequests::Table)
                    .col(big_pk_auto(PrivacyRequests::Id))
                    .col(big_integer(PrivacyRequests::OrganizationId))
                    .col(string(PrivacyRequests::Kind))
                    .col(string(PrivacyRequests::Reference))
                    .col(big_integer_null(PrivacyRequests::CustomerId))
                    .col(timestamp_with_time_zone(PrivacyRequests::ReceivedAt))
                    .col(timestamp_with_time_zone(PrivacyRequests::DueAt))
                    .col(string(PrivacyRequests::Status))
                    .col(big_integer_null(PrivacyRequests::HandledBy))
                    .col(timestamp_with_time_zone_null(PrivacyRequests::CompletedAt))
                    .col(text(PrivacyRequests::Note))
                    .col(timestamp_with_time_zone(PrivacyRequests::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_privacy_requests_organization")
                            .from(PrivacyRequests::Table, PrivacyRequests::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_privacy_requests_customer")
                            .from(PrivacyRequests::Table, PrivacyRequests::CustomerId)
                            .to(Alias::new("customers"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_privacy_requests_handled_by")
                            .from(PrivacyRequests::Table, PrivacyRequests::HandledBy)
                            .to(Alias::new("users"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_privacy_requests_reference")
                    .table(PrivacyRequests::Table)
                    .col(PrivacyRequests::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_privacy_requests_due")
                    .table(PrivacyRequests::Table)
                    .col(PrivacyRequests::OrganizationId)
                    .col(PrivacyRequests::Status)
                    .col(PrivacyRequests::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_privacy_requests_customer")
                    .table(PrivacyRequests::Table)
                    .col(PrivacyRequests::CustomerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeletionReceipts::Table)
                    .col(big_pk_auto(DeletionReceipts::Id))
                    .col(big_integer(DeletionReceipts::OrganizationId))
                    .col(big_integer(DeletionReceipts::RequestId))
                    .col(timestamp_with_time_zone(DeletionReceipts::CreatedAt))
                    .col(string(DeletionReceipts::PerformedBy))
                    .col(text(DeletionReceipts::Counts))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deletion_receipts_organization")
                            .from(DeletionReceipts::Table, DeletionReceipts::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deletion_receipts_request")
                            .from(DeletionReceipts::Table, DeletionReceipts::RequestId)
                            .to(PrivacyRequests::Table, PrivacyRequests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deletion_receipts_request")
                    .table(DeletionReceipts::Table)
                    .col(DeletionReceipts::RequestId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeletionReceipts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PrivacyRequests::Table).to_owned())
            .await
    }
}
