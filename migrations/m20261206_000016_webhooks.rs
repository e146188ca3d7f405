//! Outgoing webhooks: the endpoints each organization sets up at `/settings/webhooks` (URL,
//! events, signing secret sealed under the instance key, a previous secret during a
//! rotation's overlap) and the durable delivery queue, which is also the delivery log; and
//! the signed inbound URLs (a token in the path, a secret to sign with) that create
//! conversations from the shop's contact form.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    OrganizationId,
    Url,
    Events,
    IncludeContent,
    Active,
    SecretSealed,
    PreviousSecretSealed,
    PreviousSecretUntil,
    FailingSince,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrganizationId,
    EndpointId,
    WebhookId,
    EventType,
    ConversationId,
    CustomerId,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    ResponseStatus,
    LatencyMs,
    ResponseExcerpt,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookInbound {
    Table,
    Id,
    OrganizationId,
    TokenHash,
    SecretSealed,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(big_pk_auto(WebhookEndpoints::Id))
                    .col(big_integer(WebhookEndpoints::OrganizationId))
                    .col(text(WebhookEndpoints::Url))
                    .col(string(WebhookEndpoints::Events))
                    .col(boolean(WebhookEndpoints::IncludeContent))
                    .col(boolean(WebhookEndpoints::Active))
                    .col(text(WebhookEndpoints::SecretSealed))
                    .col(text_null(WebhookEndpoints::PreviousSecretSealed))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretUntil,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::DisabledAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_endpoints_organization")
                            .from(WebhookEndpoints::Table, WebhookEndpoints::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_endpoints_organization")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(big_integer(WebhookDeliveries::OrganizationId))
                    .col(big_integer(WebhookDeliveries::EndpointId))
                    .col(string(WebhookDeliveries::WebhookId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(big_integer_null(WebhookDeliveries::ConversationId))
                    .col(big_integer_null(WebhookDeliveries::CustomerId))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::ResponseStatus))
                    .col(big_integer_null(WebhookDeliveries::LatencyMs))
                    .col(text_null(WebhookDeliveries::ResponseExcerpt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_organization")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ix_webhook_deliveries_queue",
                vec![WebhookDeliveries::Status, WebhookDeliveries::Id],
            ),
            (
                "ix_webhook_deliveries_endpoint",
                vec![WebhookDeliveries::EndpointId, WebhookDeliveries::Id],
            ),
            (
                "ix_webhook_deliveries_conversation",
                vec![WebhookDeliveries::ConversationId],
            ),
            (
                "ix_webhook_deliveries_customer",
                vec![WebhookDeliveries::CustomerId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(WebhookDeliveries::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(WebhookInbound::Table)
                    .col(big_pk_auto(WebhookInbound::Id))
                    .col(big_integer(WebhookInbound::OrganizationId))
                    .col(string_uniq(WebhookInbound::TokenHash))
                    .col(text(WebhookInbound::SecretSealed))
                    .col(timestamp_with_time_zone(WebhookInbound::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_inbound_organization")
                            .from(WebhookInbound::Table, WebhookInbound::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_inbound_organization")
                    .table(WebhookInbound::Table)
                    .col(WebhookInbound::OrganizationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookInbound::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
