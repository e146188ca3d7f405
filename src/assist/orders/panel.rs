//! The orders panel beside a conversation: the customer's recent orders from every linked
//! shop, found by all their addresses, fetched when the page opens within [`BUDGET`] (the
//! page still renders, saying why, when a shop is slow, down or rate-limiting) and kept in
//! memory ([`super::cache`]). A restricted customer's orders are not fetched. Order numbers
//! in the thread's text become links ([`super::mentions`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect};

use super::FetchError;
use super::cache::ShopOrders;
use super::connection;
use super::fetch::Budget;
use super::mentions::{self, Part};
use super::model::Order;
use super::shop::ConnectorKind;
use super::store;
use crate::db::InOrg;
use crate::db::entity::{customer_email, order_connector};
use crate::orgs::OrgId;
use crate::state::AppState;

/// The time all shops together have to answer when a page opens.
pub const BUDGET: Duration = Duration::from_secs(3);

/// One shop's part of the panel.
pub struct ShopPanel {
    pub connector_id: i64,
    pub shop: String,
    pub orders: Vec<Order>,
    /// Why there are no orders to show (translation key).
    pub error: Option<&'static str>,
}

/// What the conversation page shows about orders.
#[derive(Default)]
pub struct OrdersPanel {
    /// Whether the organization linked a shop at all.
    pub connected: bool,
    /// The customer's processing is restricted: nothing was fetched.
    pub restricted: bool,
    pub shops: Vec<ShopPanel>,
    /// Message id → its text cut at order numbers (only messages that name one).
    linked: HashMap<i64, Vec<Part>>,
    /// Message id → its sanitized HTML with order numbers linked (only those that name one).
    linked_html: HashMap<i64, String>,
}

impl OrdersPanel {
    /// The text of message `id` with its order numbers linked, when it names one.
    pub fn linked_text(&self, id: &i64) -> Option<&Vec<Part>> {
        self.linked.get(id)
    }

    /// The sanitized HTML of message `id` with its order numbers linked, when it names one.
    pub fn linked_html(&self, id: &i64) -> Option<&String> {
        self.linked_html.get(id)
    }

    /// The panel's anchor of an order.
    pub fn anchor(connector_id: i64, number: &str) -> String {
        format!("order-{connector_id}-{number}")
    }
}

/// Every address of the customer.
pub async fn emails_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<String>, DbErr> {
    customer_email::Entity::lookup_in(org)
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_email::Column::Id)
        .into_tuple::<String>()
        .all(db)
        .await
}

/// One shop's answer.
pub struct Fetched {
    pub connector_id: i64,
    pub shop: String,
    pub result: Result<Vec<Order>, FetchError>,
}

fn shop_label(row: &order_connector::Model) -> String {
    url::Url::parse(&row.shop_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| row.shop_url.clone())
}

/// The customer's orders from every connector: from the cache, else asked now (and cached
/// when every shop answered).
pub async fn customer_orders(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    connectors: &[order_connector::Model],
) -> Result<Vec<Fetched>, DbErr> {
    if let Some(cached) = state.orders.get(org, customer_id) {
        return Ok(cached
            .iter()
            .map(|s| Fetched {
                connector_id: s.connector_id,
                shop: s.shop.clone(),
                result: Ok(s.orders.clone()),
            })
            .collect());
    }
    let emails = emails_of(&state.db, org, customer_id).await?;
    let budget = Budget::of(BUDGET);
    let fetched: Vec<Fetched> = futures::future::join_all(connectors.iter().map(|row| async {
        let result = connection::orders(state, row, &emails, &budget).await;
        if let Err(error) = &result {
            // The reason names no person and no order.
            tracing::info!(connector = row.id, %error, "orders not fetched");
        }
        Fetched {
            connector_id: row.id,
            shop: shop_label(row),
            result,
        }
    }))
    .await;
    if fetched.iter().all(|f| f.result.is_ok()) {
        let shops = fetched
            .iter()
            .map(|f| ShopOrders {
                connector_id: f.connector_id,
                shop: f.shop.clone(),
                orders: f.result.clone().unwrap_or_default(),
            })
            .collect();
        state.orders.put(org, customer_id, Arc::new(shops));
    }
    Ok(fetched)
}

/// Where an order number written in a message leads: the order in the panel, else the
/// search of the first shop's admin.
fn href_for(
    number: &str,
    shops: &[ShopPanel],
    connectors: &[order_connector::Model],
) -> Option<String> {
    for shop in shops {
        if shop.orders.iter().any(|o| o.number == number) {
            return Some(format!(
                "#{}",
                OrdersPanel::anchor(shop.connector_id, number)
            ));
        }
    }
    let first = connectors.first()?;
    let base = first.shop_url.trim_end_matches('/');
    let encoded: String = url::form_urlencoded::byte_serialize(number.as_bytes()).collect();
    Some(match ConnectorKind::parse(&first.kind)? {
        ConnectorKind::Shopify => format!("{base}/admin/orders?query={encoded}"),
        ConnectorKind::WooCommerce => {
            format!("{base}/wp-admin/edit.php?post_type=shop_order&s={encoded}")
        }
    })
}

/// The panel for a conversation of `customer_id`; `texts` are the thread's plain-text
/// messages and `htmls` its HTML ones, sanitized, (id, body) whose order numbers become links.
pub async fn load(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    restricted: bool,
    texts: &[(i64, &str)],
    htmls: &[(i64, &str)],
) -> Result<OrdersPanel, DbErr> {
    let connectors = store::list(&state.db, org).await?;
    if connectors.is_empty() {
        return Ok(OrdersPanel::default());
    }
    if restricted {
        return Ok(OrdersPanel {
            connected: true,
            restricted: true,
            ..Default::default()
        });
    }
    let shops: Vec<ShopPanel> = customer_orders(state, org, customer_id, &connectors)
        .await?
        .into_iter()
        .map(|f| match f.result {
            Ok(orders) => ShopPanel {
                connector_id: f.connector_id,
                shop: f.shop,
                orders,
                error: None,
            },
            Err(error) => ShopPanel {
                connector_id: f.connector_id,
                shop: f.shop,
                orders: Vec::new(),
                error: Some(error.label_key()),
            },
        })
        .collect();
    let linked = texts
        .iter()
        .filter_map(|(id, text)| {
            let parts = mentions::parts(text, |n| href_for(n, &shops, &connectors));
            (!parts.is_empty()).then_some((*id, parts))
        })
        .collect();
    let linked_html = htmls
        .iter()
        .filter_map(|(id, html)| {
            mentions::link_html(html, |n| href_for(n, &shops, &connectors)).map(|h| (*id, h))
        })
        .collect();
    Ok(OrdersPanel {
        connected: true,
        restricted: false,
        shops,
        linked,
        linked_html,
    })
}
