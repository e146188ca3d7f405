//! One saved connector, opened: its credentials unsealed, an HTTP client through the egress
//! rules, and the two questions Lethe asks a shop — its name (the Test button) and a
//! customer's orders — sent to Shopify or WooCommerce as the connector's kind says.

use super::FetchError;
use super::fetch::{self, Budget};
use super::model::Order;
use super::shop::{Credentials, ShopUrl};
use super::{shopify, woo};
use crate::db::entity::order_connector;
use crate::state::AppState;

/// The most orders one shop contributes to the panel.
pub const MAX_ORDERS: usize = 20;

struct Opened {
    shop: ShopUrl,
    credentials: Credentials,
    client: reqwest::Client,
}

async fn open(state: &AppState, row: &order_connector::Model) -> Result<Opened, FetchError> {
    let shop = ShopUrl::stored(&row.shop_url)?;
    let credentials = Credentials::open(&state.sealer, &row.credentials_sealed)?;
    let client = fetch::client(state.config.egress(), &shop).await?;
    Ok(Opened {
        shop,
        credentials,
        client,
    })
}

/// The shop's name, as the shop reports it.
pub async fn shop_name(
    state: &AppState,
    row: &order_connector::Model,
    budget: &Budget,
) -> Result<String, FetchError> {
    let opened = open(state, row).await?;
    match &opened.credentials {
        Credentials::Shopify { token } => {
            shopify::shop_name(&opened.client, &opened.shop, token, budget).await
        }
        Credentials::WooCommerce { key, secret } => {
            woo::Woo {
                client: &opened.client,
                shop: &opened.shop,
                key,
                secret,
                budget,
            }
            .shop_name()
            .await
        }
    }
}

/// The newest orders placed with any of `emails` (none asked for when there is no address).
pub async fn orders(
    state: &AppState,
    row: &order_connector::Model,
    emails: &[String],
    budget: &Budget,
) -> Result<Vec<Order>, FetchError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let opened = open(state, row).await?;
    let orders = match &opened.credentials {
        Credentials::Shopify { token } => {
            shopify::orders(
                &opened.client,
                &opened.shop,
                token,
                emails,
                budget,
                MAX_ORDERS,
            )
            .await?
        }
        Credentials::WooCommerce { key, secret } => {
            woo::Woo {
                client: &opened.client,
                shop: &opened.shop,
                key,
                secret,
                budget,
            }
            .orders(emails, MAX_ORDERS)
            .await?
        }
    };
    Ok(super::model::newest_first(orders, MAX_ORDERS))
}
