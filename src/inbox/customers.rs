//! Customers and their email addresses, always within one organization, and the checked
//! values of the customer record: [`CustomerName`], [`PhoneNumber`], [`PostalAddress`].

use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::{customer, customer_email};
use crate::orgs::OrgId;
use crate::web::AppError;

/// The customer's first known address.
pub async fn primary_email(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<String>, sea_orm::DbErr> {
    customer_email::Entity::lookup_in(org)
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_email::Column::Id)
        .into_tuple::<String>()
        .one(db)
        .await
}

/// A customer of this organization; any other id is "not found".
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<customer::Model, AppError> {
    customer::Entity::find_by_id_in(org, customer_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The customer's addresses, oldest first (the first is where replies go).
pub async fn emails(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<customer_email::Model>, sea_orm::DbErr> {
    customer_email::Entity::lookup_in(org)
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_email::Column::Id)
        .all(db)
        .await
}

/// Why a value of the customer record was refused; each is a translation key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    NameRequired,
    NameTooLong,
    BadPhone,
    AddressTooLong,
}

impl RecordError {
    pub fn key(self) -> &'static str {
        match self {
            RecordError::NameRequired => "privacy.record.name_required",
            RecordError::NameTooLong => "privacy.record.name_too_long",
            RecordError::BadPhone => "privacy.record.bad_phone",
            RecordError::AddressTooLong => "privacy.record.address_too_long",
        }
    }
}

/// A customer's display name: trimmed, 1 to [`CustomerName::MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(value: &str) -> Result<Self, RecordError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(RecordError::NameRequired);
        }
        if value.chars().count() > Self::MAX_CHARS || value.chars().any(char::is_control) {
            return Err(RecordError::NameTooLong);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as people write it: digits with an optional leading `+` and spaces,
/// dashes, dots, slashes or parentheses between them; 5 to 20 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(value: &str) -> Result<Self, RecordError> {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let allowed = value
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || " -./()".contains(c) || (c == '+' && i == 0));
        if !allowed || !(5..=20).contains(&digits) || value.chars().count() > 40 {
            return Err(RecordError::BadPhone);
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal address: up to 6 non-empty lines of at most 100 characters each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostalAddress(String);

impl PostalAddress {
    pub fn parse(value: &str) -> Result<Self, RecordError> {
        let lines: Vec<&str> = value
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.len() > 6
            || lines
                .iter()
                .any(|l| l.chars().count() > 100 || l.chars().any(char::is_control))
        {
            return Err(RecordError::AddressTooLong);
        }
        Ok(Self(lines.join("\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address's lines.
    pub fn lines(stored: &str) -> impl Iterator<Item = &str> {
        stored.lines().map(str::trim).filter(|l| !l.is_empty())
    }
}

/// A customer record to create (the API's `POST /api/v1/customers`).
pub struct NewCustomer {
    pub name: CustomerName,
    pub email: crate::mail::EmailAddress,
    pub phone: Option<PhoneNumber>,
    pub postal_address: Option<PostalAddress>,
}

/// Creates a customer with one address, in one transaction; `None` when another customer of
/// the organization already holds the address.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    new: NewCustomer,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<customer::Model>, sea_orm::DbErr> {
    use sea_orm::{ActiveModelTrait, Set, SqlErr};
    let txn = crate::db::begin_write(db).await?;
    let taken = customer_email::Entity::find_in(org)
        .filter(customer_email::Column::Email.eq(new.email.as_str()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let created = customer::ActiveModel {
        organization_id: Set(org),
        display_name: Set(new.name.as_str().to_owned()),
        phone: Set(new.phone.map(|p| p.as_str().to_owned())),
        postal_address: Set(new
            .postal_address
            .map(|p| p.as_str().to_owned())
            .filter(|p| !p.is_empty())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let inserted = customer_email::ActiveModel {
        organization_id: Set(org),
        customer_id: Set(created.id),
        email: Set(new.email.as_str().to_owned()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(_) => {}
        // Someone took the address at the same moment.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    }
    txn.commit().await?;
    Ok(Some(created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(CustomerName::parse("  Anna ").unwrap().as_str(), "Anna");
        assert_eq!(CustomerName::parse("  "), Err(RecordError::NameRequired));
        assert_eq!(
            CustomerName::parse(&"x".repeat(201)),
            Err(RecordError::NameTooLong)
        );
    }

    #[test]
    fn phone_numbers_take_the_usual_notations_and_nothing_else() {
        for ok in [
            "+49 30 1234567",
            "(030) 123-45-67",
            "0151/2345678",
            "+33 6.12.34.56.78",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "call me",
            "12",
            "+49 30 12345 ext 7",
            "1+2345678",
            "<script>",
        ] {
            assert_eq!(PhoneNumber::parse(bad), Err(RecordError::BadPhone), "{bad}");
        }
        assert_eq!(
            PhoneNumber::parse(" +49   30 1234567 ").unwrap().as_str(),
            "+49 30 1234567"
        );
    }

    #[test]
    fn postal_addresses_keep_their_lines_without_blank_ones() {
        let parsed = PostalAddress::parse("Hauptstraße 5\r\n\r\n 10115 Berlin \n").unwrap();
        assert_eq!(parsed.as_str(), "Hauptstraße 5\n10115 Berlin");
        assert_eq!(
            PostalAddress::lines(parsed.as_str()).collect::<Vec<_>>(),
            ["Hauptstraße 5", "10115 Berlin"]
        );
        assert_eq!(
            PostalAddress::parse(&"a\n".repeat(7)),
            Err(RecordError::AddressTooLong)
        );
    }
}
