use sea_orm::entity::prelude::*;

/// The install's backup schedule as an owner set it (src/backup/schedule.rs); one row, id 1.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backup_schedule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// `off`, `daily` or `weekly`.
    pub frequency: String,
    /// Hour of the day, UTC (0–23).
    pub hour: i32,
    /// Day of the week for `weekly`: 0 = Monday … 6 = Sunday.
    pub weekday: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
