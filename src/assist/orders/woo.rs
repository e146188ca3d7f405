//! WooCommerce, through the REST API v3 (`/wp-json/wc/v3/…`, consumer key and secret as HTTP
//! basic auth): the site's name for the Test button, and a customer's orders — those of the
//! registered customer with that email (`customers?email=` then `orders?customer=`) and guest
//! orders (`orders?search=`, kept when the billing address is that email) — page by page
//! until `X-WP-TotalPages`. Errors are `{code, message, data: {status}}`; a 429 is retried
//! once within the budget. Tracking comes from the Shipment Tracking plugin's meta
//! (`_wc_shipment_tracking_items`).

use serde::Deserialize;

use super::FetchError;
use super::carriers;
use super::fetch::{self, Budget};
use super::model::{LineItem, Order, Tracking};
use super::shop::ShopUrl;

/// Orders per page.
const PAGE_SIZE: usize = 10;
/// The Shipment Tracking plugin's order meta key.
const TRACKING_META: &str = "_wc_shipment_tracking_items";

/// A signed-in connection to one shop.
pub struct Woo<'a> {
    pub client: &'a reqwest::Client,
    pub shop: &'a ShopUrl,
    pub key: &'a str,
    pub secret: &'a str,
    pub budget: &'a Budget,
}

impl Woo<'_> {
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<fetch::Answer, FetchError> {
        let url = self.shop.join(path);
        fetch::send(
            self.budget,
            || {
                self.client
                    .get(&url)
                    .basic_auth(self.key, Some(self.secret))
                    .query(query)
            },
            |_| false,
        )
        .await
    }

    /// The site's name: what the Test button shows. The credentials are checked first on
    /// the orders endpoint; the name comes from the site index (the host when it has none).
    pub async fn shop_name(&self) -> Result<String, FetchError> {
        self.get("wp-json/wc/v3/orders", &[("per_page", "1".into())])
            .await?;
        let name = match self.get("wp-json/", &[]).await {
            Ok(answer) => answer.body["name"].as_str().map(str::to_owned),
            Err(_) => None,
        };
        Ok(name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.shop.host()))
    }

    /// Every page of `path` with `query` (until `X-WP-TotalPages` or `max` orders).
    async fn pages(
        &self,
        path: &str,
        query: Vec<(&str, String)>,
        max: usize,
    ) -> Result<Vec<WooOrder>, FetchError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let mut q = query.clone();
            q.push(("per_page", PAGE_SIZE.to_string()));
            q.push(("page", page.to_string()));
            let answer = self.get(path, &q).await?;
            let total_pages = answer.header_number("X-WP-TotalPages").unwrap_or(1);
            let orders: Vec<WooOrder> = fetch::parse(answer.body, "orders")?;
            let empty = orders.is_empty();
            out.extend(orders);
            if empty || page >= total_pages || out.len() >= max {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// The newest orders (at most `max`) of any of `emails`.
    pub async fn orders(&self, emails: &[String], max: usize) -> Result<Vec<Order>, FetchError> {
        let mut found = Vec::new();
        for email in emails {
            let customers: Vec<WooCustomer> = fetch::parse(
                self.get("wp-json/wc/v3/customers", &[("email", email.clone())])
                    .await?
                    .body,
                "customers",
            )?;
            for customer in customers {
                found.extend(
                    self.pages(
                        "wp-json/wc/v3/orders",
                        vec![("customer", customer.id.to_string())],
                        max,
                    )
                    .await?,
                );
            }
            let guest = self
                .pages("wp-json/wc/v3/orders", vec![("search", email.clone())], max)
                .await?;
            found.extend(
                guest
                    .into_iter()
                    .filter(|o| o.billing.email.trim().eq_ignore_ascii_case(email.trim())),
            );
        }
        Ok(found.into_iter().map(|o| o.into_order(self.shop)).collect())
    }
}

#[derive(Deserialize)]
struct WooCustomer {
    id: i64,
}

#[derive(Deserialize)]
struct WooOrder {
    id: i64,
    number: String,
    status: String,
    currency: String,
    /// The site's local time, without a zone; `date_created_gmt` is UTC.
    date_created_gmt: Option<String>,
    date_created: Option<String>,
    date_paid_gmt: Option<String>,
    total: String,
    #[serde(default)]
    line_items: Vec<WooLineItem>,
    #[serde(default)]
    billing: Billing,
    #[serde(default)]
    meta_data: Vec<Meta>,
}

#[derive(Deserialize, Default)]
struct Billing {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct WooLineItem {
    name: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct Meta {
    key: String,
    value: serde_json::Value,
}

/// One parcel as the Shipment Tracking plugin stores it.
#[derive(Deserialize)]
struct TrackingItem {
    #[serde(default)]
    tracking_provider: String,
    #[serde(default)]
    custom_tracking_provider: String,
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    custom_tracking_link: String,
}

/// `2017-03-22T16:28:02` (no zone) as UTC.
fn utc(value: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = value?.trim();
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

impl WooOrder {
    fn tracking(&self) -> Vec<Tracking> {
        self.meta_data
            .iter()
            .filter(|m| m.key == TRACKING_META)
            .filter_map(|m| serde_json::from_value::<Vec<TrackingItem>>(m.value.clone()).ok())
            .flatten()
            .filter_map(|t| {
                let company = if t.custom_tracking_provider.trim().is_empty() {
                    t.tracking_provider
                } else {
                    t.custom_tracking_provider
                };
                let link = Some(t.custom_tracking_link).filter(|l| !l.trim().is_empty());
                carriers::tracking(company, t.tracking_number, link)
            })
            .collect()
    }

    fn into_order(self, shop: &ShopUrl) -> Order {
        let tracking = self.tracking();
        Order {
            id: self.id.to_string(),
            created_at: utc(self.date_created_gmt.as_deref())
                .or_else(|| utc(self.date_created.as_deref()))
                .unwrap_or_default(),
            payment_status: if self.date_paid_gmt.as_deref().is_some_and(|d| !d.is_empty()) {
                "paid".to_owned()
            } else {
                "unpaid".to_owned()
            },
            fulfilment_status: self.status,
            items: self
                .line_items
                .into_iter()
                .map(|i| LineItem {
                    title: i.name,
                    quantity: i.quantity,
                })
                .collect(),
            total: format!("{} {}", self.total, self.currency),
            tracking,
            admin_url: shop.join(&format!("wp-admin/post.php?post={}&action=edit", self.id)),
            number: self.number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woocommerce_dates_without_a_zone_are_read_as_utc() {
        let at = utc(Some("2017-03-22T16:28:02")).unwrap();
        assert_eq!(at.to_rfc3339(), "2017-03-22T16:28:02+00:00");
    }

    #[test]
    fn shipment_tracking_meta_becomes_tracking_with_a_carrier_link() {
        let order: WooOrder = serde_json::from_value(serde_json::json!({
            "id": 7, "number": "7", "status": "completed", "currency": "EUR",
            "date_created_gmt": "2026-01-02T10:00:00", "date_paid_gmt": null, "total": "9.90",
            "line_items": [], "billing": {"email": "a@x.test"},
            "meta_data": [{"id": 1, "key": "_wc_shipment_tracking_items", "value": [
                {"tracking_provider": "dhl", "custom_tracking_provider": "", "tracking_number": "JJD0001",
                 "custom_tracking_link": "", "date_shipped": "1700000000", "tracking_id": "abc"}
            ]}]
        }))
        .unwrap();
        let tracking = order.tracking();
        assert_eq!(tracking.len(), 1);
        assert!(tracking[0].url.as_deref().unwrap().contains("JJD0001"));
    }
}
