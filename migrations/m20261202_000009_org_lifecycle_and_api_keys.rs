//! Organization lifecycle, API keys, privacy reminders and the audit chain's anchors.
//!
//! - `audit_head`: one row naming the newest audit entry (id and hash), updated in the same
//!   transaction as every append, so removing the newest entries is detectable; appends lock
//!   this row, which serializes them across processes on SQLite and PostgreSQL.
//! - `audit_anchors`: one row per gap that a legitimate removal (retention pruning,
//!   organization purge) left in the chain: the first kept row after the gap, the hash it
//!   chains to, and the hash of the kept row before the gap (the genesis hash at the start).
//! - `organization_deletions`: an owner's scheduled deletion of the organization and its
//!   30-day window.
//! - `api_keys`: bearer keys of an organization, stored as the SHA-256 of the key.
//! - `privacy_reminders`: which privacy requests' due-date reminders were sent.
//!
//! An existing audit log is adopted: the head names its newest row, and when its oldest rows
//! were pruned before anchors existed, its first row is anchored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum AuditHead {
    Table,
    Id,
    LastId,
    LastHash,
}

#[derive(DeriveIden, Clone)]
enum AuditAnchors {
    Table,
    RowId,
    PrevHash,
    KeptHash,
    Removed,
    Reason,
}

#[derive(DeriveIden, Clone)]
enum OrganizationDeletions {
    Table,
    OrganizationId,
    RequestedAt,
    RequestedBy,
    PurgeAfter,
    PurgeStartedAt,
}

#[derive(DeriveIden, Clone)]
enum ApiKeys {
    Table,
    Id,
    OrganizationId,
    Name,
    Prefix,
    TokenHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
    RevokedBy,
}

#[derive(DeriveIden, Clone)]
enum PrivacyReminders {
    Table,
    RequestId,
    OrganizationId,
    SentAt,
    Recipients,
}

fn fk(
    name: &str,
    from: impl IntoIden + Clone + 'static,
    column: impl IntoIden + 'static,
    to: &str,
    action: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, column)
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(action)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(big_integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::LastId))
                    .col(string(AuditHead::LastHash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditAnchors::Table)
                    .col(big_integer(AuditAnchors::RowId).primary_key())
                    .col(string(AuditAnchors::PrevHash))
                    .col(string(AuditAnchors::KeptHash))
                    .col(big_integer(AuditAnchors::Removed))
                    .col(string(AuditAnchors::Reason))
                    .to_owned(),
            )
            .await?;
        adopt_existing_chain(manager).await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationDeletions::Table)
                    .col(big_integer(OrganizationDeletions::OrganizationId).primary_key())
                    .col(timestamp_with_time_zone(OrganizationDeletions::RequestedAt))
                    .col(big_integer_null(OrganizationDeletions::RequestedBy))
                    .col(timestamp_with_time_zone(OrganizationDeletions::PurgeAfter))
                    .col(timestamp_with_time_zone_null(
                        OrganizationDeletions::PurgeStartedAt,
                    ))
                    .foreign_key(&mut fk(
                        "fk_organization_deletions_organization",
                        OrganizationDeletions::Table,
                        OrganizationDeletions::OrganizationId,
                        "organizations",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_organization_deletions_user",
                        OrganizationDeletions::Table,
                        OrganizationDeletions::RequestedBy,
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(big_integer(ApiKeys::OrganizationId))
                    .col(string(ApiKeys::Name))
                    .col(string(ApiKeys::Prefix))
                    .col(string_uniq(ApiKeys::TokenHash))
                    .col(big_integer_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(big_integer_null(ApiKeys::RevokedBy))
                    .foreign_key(&mut fk(
                        "fk_api_keys_organization",
                        ApiKeys::Table,
                        ApiKeys::OrganizationId,
                        "organizations",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_api_keys_created_by",
                        ApiKeys::Table,
                        ApiKeys::CreatedBy,
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_api_keys_revoked_by",
                        ApiKeys::Table,
                        ApiKeys::RevokedBy,
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_organization")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PrivacyReminders::Table)
                    .col(big_integer(PrivacyReminders::RequestId).primary_key())
                    .col(big_integer(PrivacyReminders::OrganizationId))
                    .col(timestamp_with_time_zone(PrivacyReminders::SentAt))
                    .col(integer(PrivacyReminders::Recipients))
                    .foreign_key(&mut fk(
                        "fk_privacy_reminders_request",
                        PrivacyReminders::Table,
                        PrivacyReminders::RequestId,
                        "privacy_requests",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_privacy_reminders_organization",
                        PrivacyReminders::Table,
                        PrivacyReminders::OrganizationId,
                        "organizations",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PrivacyReminders::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            OrganizationDeletions::Table.into_iden(),
            AuditAnchors::Table.into_iden(),
            AuditHead::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The head names the newest existing row; a chain whose oldest rows were pruned before
/// anchors existed gets its first row anchored.
async fn adopt_existing_chain(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let events = Alias::new("audit_events");
    let newest = db
        .query_one(
            &Query::select()
                .columns([Alias::new("id"), Alias::new("hash")])
                .from(events.clone())
                .order_by(Alias::new("id"), Order::Desc)
                .limit(1)
                .to_owned(),
        )
        .await?;
    let (last_id, last_hash) = match newest {
        Some(row) => (
            row.try_get::<i64>("", "id")?,
            row.try_get::<String>("", "hash")?,
        ),
        None => (0, GENESIS.to_owned()),
    };
    db.execute(
        &Query::insert()
            .into_table(AuditHead::Table)
            .columns([AuditHead::Id, AuditHead::LastId, AuditHead::LastHash])
            .values_panic([1i64.into(), last_id.into(), last_hash.into()])
            .to_owned(),
    )
    .await?;
    let oldest = db
        .query_one(
            &Query::select()
                .columns([Alias::new("id"), Alias::new("prev_hash")])
                .from(events)
                .order_by(Alias::new("id"), Order::Asc)
                .limit(1)
                .to_owned(),
        )
        .await?;
    if let Some(row) = oldest {
        let id = row.try_get::<i64>("", "id")?;
        let prev_hash = row.try_get::<String>("", "prev_hash")?;
        if prev_hash != GENESIS {
            db.execute(
                &Query::insert()
                    .into_table(AuditAnchors::Table)
                    .columns([
                        AuditAnchors::RowId,
                        AuditAnchors::PrevHash,
                        AuditAnchors::KeptHash,
                        AuditAnchors::Removed,
                        AuditAnchors::Reason,
                    ])
                    .values_panic([
                        id.into(),
                        prev_hash.into(),
                        GENESIS.into(),
                        0i64.into(),
                        "pruned before anchors were recorded".into(),
                    ])
                    .to_owned(),
            )
            .await?;
        }
    }
    Ok(())
}
