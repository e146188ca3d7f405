//! Customers and their email addresses, always within one organization.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entity::customer_email;
use crate::orgs::OrgId;
use crate::web::AppError;

/// The customer's first known address.
pub async fn primary_email(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<String>, AppError> {
    Ok(customer_email::Entity::find()
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::OrganizationId.eq(org.get()))
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_email::Column::Id)
        .into_tuple::<String>()
        .one(db)
        .await?)
}
