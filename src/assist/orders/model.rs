//! An order as the panel shows it, whichever shop it came from: only what an agent needs to
//! answer (number, date, payment and fulfilment status, items, total, tracking). Held in
//! memory only; `Debug` prints the number alone, so an order never reaches the log whole.

use std::fmt;

use chrono::{DateTime, Utc};

/// One order.
#[derive(Clone, PartialEq, Eq)]
pub struct Order {
    /// The shop's id for it (Shopify `gid://…`, WooCommerce number), for de-duplication.
    pub id: String,
    /// The number customers see, without `#` (`1001`).
    pub number: String,
    pub created_at: DateTime<Utc>,
    /// As the shop words it (`PAID`, `processing`…).
    pub payment_status: String,
    pub fulfilment_status: String,
    pub items: Vec<LineItem>,
    /// The total with its currency (`49.90 EUR`).
    pub total: String,
    pub tracking: Vec<Tracking>,
    /// The order in the shop's admin.
    pub admin_url: String,
}

impl fmt::Debug for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Order")
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

/// One line of an order.
#[derive(Clone, PartialEq, Eq)]
pub struct LineItem {
    pub title: String,
    pub quantity: i64,
}

/// A parcel's tracking number, its carrier and where to follow it.
#[derive(Clone, PartialEq, Eq)]
pub struct Tracking {
    pub number: String,
    pub company: String,
    /// The shop's link, or one built from the carrier ([`super::carriers`]).
    pub url: Option<String>,
}

impl Order {
    /// The date as the panel shows it.
    pub fn date(&self) -> String {
        self.created_at.format("%Y-%m-%d").to_string()
    }

    /// The order as a short text for a reply: number, date, items, total, status.
    pub fn summary(&self) -> String {
        let mut out = format!("#{} ({})\n", self.number, self.date());
        for item in &self.items {
            out.push_str(&format!("- {} × {}\n", item.quantity, item.title));
        }
        out.push_str(&format!(
            "{} · {} · {}",
            self.total, self.payment_status, self.fulfilment_status
        ));
        for t in &self.tracking {
            out.push('\n');
            out.push_str(&t.line());
        }
        out
    }

    /// The tracking lines, one per parcel (empty without tracking).
    pub fn tracking_text(&self) -> String {
        self.tracking
            .iter()
            .map(Tracking::line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Orders of the same shop are equal by id.
    pub fn dedup_key(&self) -> &str {
        &self.id
    }
}

impl Tracking {
    /// `DHL 00340434…: https://…` (the link alone when there is no number).
    pub fn line(&self) -> String {
        let head = [self.company.as_str(), self.number.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        match &self.url {
            Some(url) => format!("{head}: {url}"),
            None => head,
        }
    }
}

/// Newest first, one entry per order id, at most `max`.
pub fn newest_first(mut orders: Vec<Order>, max: usize) -> Vec<Order> {
    orders.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    let mut seen = std::collections::HashSet::new();
    orders.retain(|o| seen.insert(o.dedup_key().to_owned()));
    orders.truncate(max);
    orders
}
