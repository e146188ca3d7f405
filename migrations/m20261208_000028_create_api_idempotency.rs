//! `api_idempotency`: the POSTs made with an `Idempotency-Key` header (src/api/idempotency.rs),
//! per API key, for 24 hours. A row holds hashes and the ids of what the request created —
//! never a response body — so it holds no personal data; replays render the record as it is
//! now (an erased one answers 404). Rows go with their key and their organization.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiIdempotency {
    Table,
    Id,
    OrganizationId,
    ApiKeyId,
    KeyHash,
    Salt,
    RequestHash,
    Status,
    Resource,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiIdempotency::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ApiIdempotency::Id))
                    .col(big_integer(ApiIdempotency::OrganizationId))
                    .col(big_integer(ApiIdempotency::ApiKeyId))
                    .col(string(ApiIdempotency::KeyHash))
                    .col(string(ApiIdempotency::Salt))
                    .col(string(ApiIdempotency::RequestHash))
                    .col(integer(ApiIdempotency::Status))
                    .col(text(ApiIdempotency::Resource))
                    .col(timestamp_with_time_zone(ApiIdempotency::CreatedAt))
                    .col(timestamp_with_time_zone(ApiIdempotency::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_idempotency_organization")
                            .from(ApiIdempotency::Table, ApiIdempotency::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_idempotency_api_key")
                            .from(ApiIdempotency::Table, ApiIdempotency::ApiKeyId)
                            .to(Alias::new("api_keys"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_idempotency_key")
                    .table(ApiIdempotency::Table)
                    .col(ApiIdempotency::ApiKeyId)
                    .col(ApiIdempotency::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_idempotency_organization")
                    .table(ApiIdempotency::Table)
                    .col(ApiIdempotency::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_idempotency_expires")
                    .table(ApiIdempotency::Table)
                    .col(ApiIdempotency::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiIdempotency::Table).to_owned())
            .await
    }
}
