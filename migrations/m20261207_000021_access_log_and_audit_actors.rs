//! The access log (src/audit/access.rs): who opened whose personal data — a conversation, a
//! customer page, an attachment, an export, a search that showed a customer — when and from
//! where. Append-only, apart from the audit chain (which keeps privileged actions); kept by
//! the retention category `access_log`; deleted with the customer it is about.
//!
//! `organization_deletions.confirm_to`: who gets the deletion confirmation once an
//! organization's purge is done (src/orgs/purge.rs).
//!
//! And `audit_actors`: the address of each member the audit log names. New audit rows name a
//! member as `user:<id>` (what the chain's MACs cover); the address lives here, outside the
//! chain, so it can be erased when the member leaves and the chain still verifies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccessEntries {
    Table,
    Id,
    OrganizationId,
    UserId,
    CustomerId,
    ConversationId,
    Kind,
    Client,
    OccurredAt,
}

#[derive(DeriveIden)]
enum OrganizationDeletions {
    Table,
    ConfirmTo,
}

#[derive(DeriveIden)]
enum AuditActors {
    Table,
    UserId,
    Email,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessEntries::Table)
                    .col(big_pk_auto(AccessEntries::Id))
                    .col(big_integer(AccessEntries::OrganizationId))
                    .col(big_integer_null(AccessEntries::UserId))
                    .col(big_integer_null(AccessEntries::CustomerId))
                    .col(big_integer_null(AccessEntries::ConversationId))
                    .col(string(AccessEntries::Kind))
                    .col(string_null(AccessEntries::Client))
                    .col(timestamp_with_time_zone(AccessEntries::OccurredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_access_entries_organization")
                            .from(AccessEntries::Table, AccessEntries::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ix_access_entries_customer",
                vec![
                    AccessEntries::OrganizationId,
                    AccessEntries::CustomerId,
                    AccessEntries::OccurredAt,
                ],
            ),
            (
                "ix_access_entries_user",
                vec![
                    AccessEntries::OrganizationId,
                    AccessEntries::UserId,
                    AccessEntries::OccurredAt,
                ],
            ),
            (
                "ix_access_entries_conversation",
                vec![AccessEntries::ConversationId],
            ),
            (
                "ix_access_entries_occurred",
                vec![AccessEntries::OrganizationId, AccessEntries::OccurredAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AccessEntries::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditActors::Table)
                    .col(big_integer(AuditActors::UserId).primary_key())
                    .col(string(AuditActors::Email))
                    .col(timestamp_with_time_zone(AuditActors::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationDeletions::Table)
                    .add_column(text_null(OrganizationDeletions::ConfirmTo))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationDeletions::Table)
                    .drop_column(OrganizationDeletions::ConfirmTo)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AuditActors::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AccessEntries::Table).to_owned())
            .await
    }
}
