use sea_orm::entity::prelude::*;

/// A user's TOTP secret (src/auth/two_factor.rs), sealed under the instance key. Without
/// `confirmed_at` it is an enrolment waiting for its first code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub secret_sealed: String,
    pub confirmed_at: Option<DateTimeUtc>,
    /// The newest time step a code was accepted for: codes of it and before are refused.
    pub last_used_step: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
