//! Mailboxes at Microsoft 365 and Google (src/mail/oauth/): a channel signs in to IMAP and
//! SMTP with a password or with OAuth2. The client secret, the refresh token and the current
//! access token are sealed like the passwords; `oauth_problem` says why the sign-in stopped
//! working ("sign in again"). `aliases` are the other addresses the channel receives for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum Channels {
    Table,
    AuthMethod,
    OauthProvider,
    OauthClientId,
    OauthClientSecretSealed,
    OauthAuthUrl,
    OauthTokenUrl,
    OauthScopes,
    OauthRefreshTokenSealed,
    OauthAccessTokenSealed,
    OauthAccessExpiresAt,
    OauthSignedInAt,
    OauthProblem,
    Aliases,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement.
        let columns = [
            string(Channels::AuthMethod).default("password").to_owned(),
            text_null(Channels::OauthProvider),
            text_null(Channels::OauthClientId),
            text_null(Channels::OauthClientSecretSealed),
            text_null(Channels::OauthAuthUrl),
            text_null(Channels::OauthTokenUrl),
            text_null(Channels::OauthScopes),
            text_null(Channels::OauthRefreshTokenSealed),
            text_null(Channels::OauthAccessTokenSealed),
            timestamp_with_time_zone_null(Channels::OauthAccessExpiresAt),
            timestamp_with_time_zone_null(Channels::OauthSignedInAt),
            text_null(Channels::OauthProblem),
            text(Channels::Aliases).default("").to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Channels::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Channels::Aliases,
            Channels::OauthProblem,
            Channels::OauthSignedInAt,
            Channels::OauthAccessExpiresAt,
            Channels::OauthAccessTokenSealed,
            Channels::OauthRefreshTokenSealed,
            Channels::OauthScopes,
            Channels::OauthTokenUrl,
            Channels::OauthAuthUrl,
            Channels::OauthClientSecretSealed,
            Channels::OauthClientId,
            Channels::OauthProvider,
            Channels::AuthMethod,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Channels::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
