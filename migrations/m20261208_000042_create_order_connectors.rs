//! Order connectors (issue 17, src/assist/orders/): one row per shop an organization links
//! (Shopify or WooCommerce), with its URL and its credentials sealed under the instance key.
//! No order data is ever stored: orders are fetched when a conversation is opened and kept in
//! memory only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderConnectors {
    Table,
    Id,
    OrganizationId,
    Kind,
    ShopUrl,
    CredentialsSealed,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderConnectors::Table)
                    .col(big_pk_auto(OrderConnectors::Id))
                    .col(big_integer(OrderConnectors::OrganizationId))
                    .col(string(OrderConnectors::Kind))
                    .col(text(OrderConnectors::ShopUrl))
                    .col(text(OrderConnectors::CredentialsSealed))
                    .col(timestamp_with_time_zone(OrderConnectors::CreatedAt))
                    .col(timestamp_with_time_zone(OrderConnectors::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_connectors_organization")
                            .from(OrderConnectors::Table, OrderConnectors::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_order_connectors_organization")
                    .table(OrderConnectors::Table)
                    .col(OrderConnectors::OrganizationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderConnectors::Table).to_owned())
            .await
    }
}
