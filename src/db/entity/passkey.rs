use sea_orm::entity::prelude::*;

/// A user's passkey (src/auth/passkeys.rs): a WebAuthn credential and its public key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// base64url of the credential id.
    pub credential_id: String,
    /// base64url of the COSE public key.
    pub public_key: String,
    /// The newest signature counter seen (0 for authenticators that keep none).
    pub sign_count: i64,
    pub name: String,
    /// base64url of the random user handle the authenticator keeps.
    pub user_handle: String,
    /// Synced between devices (a password manager or platform account).
    pub backup_eligible: bool,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
