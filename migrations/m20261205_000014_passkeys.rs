//! Passkeys (WebAuthn), as a second factor and to sign in without a password (issue 13).
//!
//! - `passkeys`: a user's registered credential: its id (base64url, unique on the instance),
//!   the COSE public key the authenticator gave (base64url), the newest signature counter,
//!   the name the user gave it, and the user handle the authenticator keeps (random, the same
//!   for all of a user's passkeys; never the user's id or address).
//! - `spent_challenges`: the digest of every challenge a ceremony used, until it expires, so
//!   a signed answer cannot be replayed (challenges are otherwise stateless: a MAC under the
//!   instance key, bound to the session).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    CredentialId,
    PublicKey,
    SignCount,
    Name,
    UserHandle,
    BackupEligible,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum SpentChallenges {
    Table,
    Digest,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .col(big_pk_auto(Passkeys::Id))
                    .col(big_integer(Passkeys::UserId))
                    .col(string_uniq(Passkeys::CredentialId))
                    .col(text(Passkeys::PublicKey))
                    .col(big_integer(Passkeys::SignCount))
                    .col(string(Passkeys::Name))
                    .col(string(Passkeys::UserHandle))
                    .col(boolean(Passkeys::BackupEligible))
                    .col(timestamp_with_time_zone(Passkeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(Passkeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkeys_user")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_passkeys_user")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SpentChallenges::Table)
                    .col(string(SpentChallenges::Digest).primary_key())
                    .col(timestamp_with_time_zone(SpentChallenges::ExpiresAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SpentChallenges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Passkeys::Table).to_owned())
            .await
    }
}
