//! Shopify, through the Admin GraphQL API (`POST /admin/api/<version>/graphql.json`, the
//! custom app's token in `X-Shopify-Access-Token`): the shop's name for the Test button, and
//! a customer's orders searched by email (`email:"…" OR email:"…"`), newest first, page by
//! page with `pageInfo { hasNextPage endCursor }`. Errors come in `errors`; a throttled query
//! says `extensions.code == "THROTTLED"` (or HTTP 429) and is retried once within the budget.

use serde::Deserialize;

use super::FetchError;
use super::carriers;
use super::fetch::{self, Answer, Budget};
use super::model::{LineItem, Order, Tracking};
use super::shop::ShopUrl;

/// The Admin API version Lethe asks for (a stable, supported release).
pub const API_VERSION: &str = "2025-01";
/// Orders per page.
const PAGE_SIZE: usize = 10;

const SHOP_QUERY: &str = "query { shop { name } }";

const ORDERS_QUERY: &str = "query CustomerOrders($query: String!, $first: Int!, $after: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      name
      createdAt
      displayFinancialStatus
      displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      lineItems(first: 20) { nodes { title quantity } }
      fulfillments(first: 10) { trackingInfo(first: 10) { company number url } }
    }
  }
}";

fn endpoint(shop: &ShopUrl) -> String {
    shop.join(&format!("admin/api/{API_VERSION}/graphql.json"))
}

/// Whether a 200 answer says the query was throttled.
fn throttled(answer: &Answer) -> bool {
    answer.body["errors"].as_array().is_some_and(|errors| {
        errors
            .iter()
            .any(|e| e["extensions"]["code"].as_str() == Some("THROTTLED"))
    })
}

/// The GraphQL answer's `data`, or what its `errors` say.
fn data(answer: Answer) -> Result<serde_json::Value, FetchError> {
    if let Some(errors) = answer.body["errors"].as_array().filter(|e| !e.is_empty()) {
        let code = errors
            .iter()
            .find_map(|e| e["extensions"]["code"].as_str())
            .unwrap_or("error");
        return Err(match code {
            "ACCESS_DENIED" | "UNAUTHORIZED" => FetchError::BadCredentials,
            _ => FetchError::Protocol(format!("GraphQL {code}")),
        });
    }
    // `errors` as a string: Shopify's answer to a bad token on some versions.
    if answer.body["errors"].is_string() {
        return Err(FetchError::BadCredentials);
    }
    Ok(answer.body["data"].clone())
}

async fn query(
    client: &reqwest::Client,
    shop: &ShopUrl,
    token: &str,
    budget: &Budget,
    body: serde_json::Value,
) -> Result<serde_json::Value, FetchError> {
    let url = endpoint(shop);
    let body = body.to_string();
    let answer = fetch::send(
        budget,
        || {
            client
                .post(&url)
                .header("X-Shopify-Access-Token", token)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
        },
        throttled,
    )
    .await?;
    data(answer)
}

/// The shop's name: what the Test button shows.
pub async fn shop_name(
    client: &reqwest::Client,
    shop: &ShopUrl,
    token: &str,
    budget: &Budget,
) -> Result<String, FetchError> {
    #[derive(Deserialize)]
    struct Data {
        shop: Shop,
    }
    #[derive(Deserialize)]
    struct Shop {
        name: String,
    }
    let data = query(
        client,
        shop,
        token,
        budget,
        serde_json::json!({ "query": SHOP_QUERY }),
    )
    .await?;
    Ok(fetch::parse::<Data>(data, "shop")?.shop.name)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrdersData {
    orders: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: PageInfo,
    nodes: Vec<OrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderNode {
    id: String,
    name: String,
    created_at: chrono::DateTime<chrono::Utc>,
    display_financial_status: Option<String>,
    display_fulfillment_status: Option<String>,
    total_price_set: MoneyBag,
    line_items: Nodes<LineItemNode>,
    #[serde(default)]
    fulfillments: Vec<Fulfillment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Money {
    amount: String,
    currency_code: String,
}

#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize)]
struct LineItemNode {
    title: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fulfillment {
    #[serde(default)]
    tracking_info: Vec<TrackingInfo>,
}

#[derive(Deserialize)]
struct TrackingInfo {
    company: Option<String>,
    number: Option<String>,
    url: Option<String>,
}

impl OrderNode {
    fn into_order(self, shop: &ShopUrl) -> Order {
        let numeric = self.id.rsplit('/').next().unwrap_or_default().to_owned();
        Order {
            number: self.name.trim_start_matches('#').to_owned(),
            created_at: self.created_at,
            payment_status: self.display_financial_status.unwrap_or_default(),
            fulfilment_status: self.display_fulfillment_status.unwrap_or_default(),
            items: self
                .line_items
                .nodes
                .into_iter()
                .map(|i| LineItem {
                    title: i.title,
                    quantity: i.quantity,
                })
                .collect(),
            total: format!(
                "{} {}",
                self.total_price_set.shop_money.amount,
                self.total_price_set.shop_money.currency_code
            ),
            tracking: self
                .fulfillments
                .into_iter()
                .flat_map(|f| f.tracking_info)
                .filter_map(|t| {
                    let number = t.number.unwrap_or_default();
                    let company = t.company.unwrap_or_default();
                    carriers::tracking(company, number, t.url)
                })
                .collect::<Vec<Tracking>>(),
            admin_url: shop.join(&format!("admin/orders/{numeric}")),
            id: self.id,
        }
    }
}

/// The search that finds orders placed with any of `emails`.
fn search(emails: &[String]) -> String {
    emails
        .iter()
        .map(|e| format!("email:\"{}\"", e.replace(['"', '\\'], "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The newest orders (at most `max`) placed with any of `emails`.
pub async fn orders(
    client: &reqwest::Client,
    shop: &ShopUrl,
    token: &str,
    emails: &[String],
    budget: &Budget,
    max: usize,
) -> Result<Vec<Order>, FetchError> {
    let search = search(emails);
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = query(
            client,
            shop,
            token,
            budget,
            serde_json::json!({
                "query": ORDERS_QUERY,
                "variables": { "query": search, "first": PAGE_SIZE, "after": after },
            }),
        )
        .await?;
        let page = fetch::parse::<OrdersData>(data, "orders")?.orders;
        out.extend(page.nodes.into_iter().map(|n| n.into_order(shop)));
        match page.page_info.end_cursor {
            Some(cursor) if page.page_info.has_next_page && out.len() < max => {
                after = Some(cursor);
            }
            _ => break,
        }
    }
    out.truncate(max);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_names_every_address_and_drops_quotes() {
        assert_eq!(
            search(&["a@x.test".into(), "b\"@y.test".into()]),
            "email:\"a@x.test\" OR email:\"b@y.test\""
        );
    }
}
