//! The privacy tables as sea-orm entities (plain data; the queries are in `requests.rs`).

pub mod privacy_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "privacy_requests")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub organization_id: i64,
        pub kind: String,
        pub reference: String,
        pub customer_id: Option<i64>,
        pub received_at: DateTimeUtc,
        pub due_at: DateTimeUtc,
        pub status: String,
        pub handled_by: Option<i64>,
        pub completed_at: Option<DateTimeUtc>,
        #[sea_orm(column_type = "Text")]
        pub note: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deletion_receipt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deletion_receipts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub organization_id: i64,
        pub request_id: i64,
        pub created_at: DateTimeUtc,
        pub performed_by: String,
        /// The counts per category, as JSON (see [`crate::privacy::erase::Counts`]).
        #[sea_orm(column_type = "Text")]
        pub counts: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
