//! Objections that change something, and verified requesters (src/privacy/):
//!
//! - `customers.objection_effects`, `customers.objection_since`: the effects of an objection
//!   in force (GDPR Art. 21) — a comma-separated set of `exclude_reports`, `stop_processing` —
//!   and since when; lifted (set back to NULL) only by an admin;
//! - `privacy_requests.effects`: the effects chosen when an objection was recorded (the one-off
//!   `anonymize_closed` too), as the register shows them;
//! - `privacy_requests.verification_*`, `verified_at`, `override_*`: the one-time link sent to
//!   an address already on the customer record (its SHA-256, when, to which address row, until
//!   when), when the requester confirmed it, and an admin's explicit override of an unverified
//!   request (reason, who, when).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    ObjectionEffects,
    ObjectionSince,
}

#[derive(DeriveIden)]
enum PrivacyRequests {
    Table,
    Effects,
    VerificationTokenHash,
    VerificationEmailId,
    VerificationSentAt,
    VerificationExpiresAt,
    VerifiedAt,
    OverrideReason,
    OverriddenBy,
    OverriddenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement.
        for column in [
            string_null(Customers::ObjectionEffects),
            timestamp_with_time_zone_null(Customers::ObjectionSince),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customers::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            string_null(PrivacyRequests::Effects),
            string_null(PrivacyRequests::VerificationTokenHash),
            big_integer_null(PrivacyRequests::VerificationEmailId),
            timestamp_with_time_zone_null(PrivacyRequests::VerificationSentAt),
            timestamp_with_time_zone_null(PrivacyRequests::VerificationExpiresAt),
            timestamp_with_time_zone_null(PrivacyRequests::VerifiedAt),
            text_null(PrivacyRequests::OverrideReason),
            big_integer_null(PrivacyRequests::OverriddenBy),
            timestamp_with_time_zone_null(PrivacyRequests::OverriddenAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PrivacyRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_privacy_requests_verification")
                    .table(PrivacyRequests::Table)
                    .col(PrivacyRequests::VerificationTokenHash)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_privacy_requests_verification")
                    .table(PrivacyRequests::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            PrivacyRequests::Effects,
            PrivacyRequests::VerificationTokenHash,
            PrivacyRequests::VerificationEmailId,
            PrivacyRequests::VerificationSentAt,
            PrivacyRequests::VerificationExpiresAt,
            PrivacyRequests::VerifiedAt,
            PrivacyRequests::OverrideReason,
            PrivacyRequests::OverriddenBy,
            PrivacyRequests::OverriddenAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PrivacyRequests::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Customers::ObjectionEffects, Customers::ObjectionSince] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
