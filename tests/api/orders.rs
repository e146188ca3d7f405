//! The orders panel (issue 17), end to end. Shopify and WooCommerce cannot run here, so each
//! test starts a local shop ([`FakeShop`], an in-process actix-web server on loopback) that
//! answers the documented subset of both APIs with their documented response shapes —
//! Shopify's Admin GraphQL `orders` connection with `pageInfo`, `errors` and the THROTTLED
//! code; WooCommerce's REST v3 `customers` and `orders` with `X-WP-TotalPages`, its error
//! JSON and 429 with `Retry-After` — records every request, and can be made slow or
//! rate-limiting. Lethe is driven over HTTP as an admin and an agent use it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use lethe::db::entity::{audit_event, customer_email, draft, order_connector};
use lethe::orgs::OrgId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, location, mail, spawn_app, traces, unique_suffix};

/// How the fake shop behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Answers after 10 s.
    Slow,
    /// The first request is rate-limited (Shopify: THROTTLED in a 200; WooCommerce: 429
    /// with `Retry-After: 1`), the next ones are answered.
    LimitedOnce,
    /// Every request gets 429 with `Retry-After: 30`.
    LimitedAlways,
}

struct ShopState {
    mode: Mutex<Mode>,
    limited_yet: Mutex<bool>,
    requests: Mutex<Vec<String>>,
}

/// A local Shopify and WooCommerce in one server.
struct FakeShop {
    url: String,
    state: Arc<ShopState>,
}

const SHOPIFY_TOKEN: &str = "shpat_9f8e7d6c5b4a39281706";
const WOO_KEY: &str = "ck_5e4f3a2b1c0d9e8f7a6b";
const WOO_SECRET: &str = "cs_0a1b2c3d4e5f6a7b8c9d";
/// Shopify customer's two addresses; WooCommerce's registered and guest addresses.
const ANNA: &str = "anna@kunde.test";
const ANNA_WORK: &str = "anna.schmidt@work.test";
const BERTA: &str = "berta@kunde.test";
const BERTA_GUEST: &str = "berta.privat@mail.test";

fn item_name(number: u32) -> String {
    format!("Zirbenholzbrett Modell {number}")
}

/// Shopify order `number` as the Admin GraphQL API answers it.
fn shopify_order(number: u32) -> Value {
    let tracking = match number {
        1012 => json!([{ "company": "DHL Express", "number": "JJD00390123456", "url": null }]),
        1011 => json!([{ "company": "UPS", "number": "1Z999AA10123456784",
                         "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784" }]),
        _ => json!([]),
    };
    json!({
        "id": format!("gid://shopify/Order/{}", 450789469 + number),
        "name": format!("#{number}"),
        "createdAt": format!("2026-11-{:02}T10:00:00Z", number - 1000),
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": if number >= 1011 { "FULFILLED" } else { "UNFULFILLED" },
        "totalPriceSet": { "shopMoney": { "amount": format!("{number}.90"), "currencyCode": "EUR" } },
        "lineItems": { "nodes": [ { "title": item_name(number), "quantity": 2 } ] },
        "fulfillments": [ { "trackingInfo": tracking } ]
    })
}

/// The Shopify orders of an address: 1001–1008 for Anna's private one, 1009–1012 for her
/// work one.
fn shopify_numbers(email: &str) -> Vec<u32> {
    match email {
        ANNA => (1001..=1008).collect(),
        ANNA_WORK => (1009..=1012).collect(),
        _ => Vec::new(),
    }
}

/// WooCommerce order `number` as the REST API v3 answers it.
fn woo_order(number: u32, email: &str) -> Value {
    let meta = if number == 2012 {
        json!([{ "id": 9001, "key": "_wc_shipment_tracking_items", "value": [{
            "tracking_provider": "gls", "custom_tracking_provider": "", "custom_tracking_link": "",
            "tracking_number": "GLS7700112233", "date_shipped": "1764000000", "tracking_id": "a1b2c3"
        }]}])
    } else {
        json!([])
    };
    json!({
        "id": 700 + number,
        "parent_id": 0,
        "number": number.to_string(),
        "status": if number == 2012 { "completed" } else { "processing" },
        "currency": "EUR",
        "date_created": format!("2026-10-{:02}T12:00:00", (number - 2000) % 28 + 1),
        "date_created_gmt": format!("2026-10-{:02}T11:00:00", (number - 2000) % 28 + 1),
        "date_paid_gmt": format!("2026-10-{:02}T11:05:00", (number - 2000) % 28 + 1),
        "total": format!("{number}.50"),
        "billing": { "first_name": "Berta", "last_name": "Beispiel", "email": email },
        "line_items": [ { "id": number, "name": item_name(number), "product_id": 93, "quantity": 1, "total": "10.00" } ],
        "meta_data": meta
    })
}

fn json_answer(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.to_string())
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn answer(req: HttpRequest, body: web::Bytes, shop: web::Data<ShopState>) -> HttpResponse {
    shop.requests
        .lock()
        .unwrap()
        .push(format!("{} {}", req.method(), req.uri()));
    let mode = *shop.mode.lock().unwrap();
    let shopify = req.path().ends_with("/graphql.json");
    match mode {
        Mode::Slow => tokio::time::sleep(Duration::from_secs(10)).await,
        Mode::LimitedAlways => {
            return HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", "30"))
                .content_type("application/json")
                .body(if shopify {
                    json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }] })
                        .to_string()
                } else {
                    json!({ "code": "rest_too_many_requests", "message": "Too many requests.", "data": { "status": 429 } })
                        .to_string()
                });
        }
        Mode::LimitedOnce => {
            let mut limited = shop.limited_yet.lock().unwrap();
            if !*limited {
                *limited = true;
                return if shopify {
                    json_answer(
                        200,
                        json!({
                            "errors": [{ "message": "Throttled", "extensions": {
                                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                            "extensions": { "cost": { "requestedQueryCost": 752, "actualQueryCost": null,
                                "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 10, "restoreRate": 100.0 } } }
                        }),
                    )
                } else {
                    HttpResponse::TooManyRequests()
                        .insert_header(("Retry-After", "1"))
                        .content_type("application/json")
                        .body(json!({ "code": "rest_too_many_requests", "message": "Too many requests.", "data": { "status": 429 } }).to_string())
                };
            }
        }
        Mode::Normal => {}
    }
    if shopify {
        shopify_answer(&req, &body)
    } else {
        woo_answer(&req)
    }
}

fn shopify_answer(req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if req
        .headers()
        .get("X-Shopify-Access-Token")
        .and_then(|v| v.to_str().ok())
        != Some(SHOPIFY_TOKEN)
    {
        return json_answer(
            401,
            json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
        );
    }
    let request: Value = serde_json::from_slice(body).unwrap();
    let query = request["query"].as_str().unwrap();
    if query.contains("shop {") {
        return json_answer(
            200,
            json!({ "data": { "shop": { "name": "Fahrrad Manufaktur" } } }),
        );
    }
    let search = request["variables"]["query"].as_str().unwrap();
    let first = request["variables"]["first"].as_u64().unwrap() as usize;
    let after: usize = request["variables"]["after"]
        .as_str()
        .map(|c| c.trim_start_matches("cursor-").parse().unwrap())
        .unwrap_or(0);
    let emails = regex::Regex::new(r#"email:"([^"]+)""#).unwrap();
    let mut numbers: Vec<u32> = emails
        .captures_iter(search)
        .flat_map(|c| shopify_numbers(&c[1]))
        .collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    let page: Vec<Value> = numbers
        .iter()
        .skip(after)
        .take(first)
        .map(|n| shopify_order(*n))
        .collect();
    let end = after + page.len();
    json_answer(
        200,
        json!({
            "data": { "orders": {
                "pageInfo": { "hasNextPage": end < numbers.len(), "endCursor": format!("cursor-{end}"),
                              "hasPreviousPage": after > 0, "startCursor": format!("cursor-{after}") },
                "nodes": page
            } },
            "extensions": { "cost": { "requestedQueryCost": 252, "actualQueryCost": 40,
                "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 1960, "restoreRate": 100.0 } } }
        }),
    )
}

fn woo_authorized(req: &HttpRequest) -> bool {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{WOO_KEY}:{WOO_SECRET}"))
    );
    req.headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

/// A page of `all` with WooCommerce's pagination headers.
fn woo_page(req: &HttpRequest, all: Vec<Value>) -> HttpResponse {
    let per_page: usize = query_param(req, "per_page")
        .map(|p| p.parse().unwrap())
        .unwrap_or(10);
    let page: usize = query_param(req, "page")
        .map(|p| p.parse().unwrap())
        .unwrap_or(1);
    let total_pages = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("X-WP-Total", all.len().to_string()))
        .insert_header(("X-WP-TotalPages", total_pages.to_string()))
        .body(Value::Array(items).to_string())
}

fn woo_answer(req: &HttpRequest) -> HttpResponse {
    let path = req.path().trim_end_matches('/');
    if path == "/wp-json" {
        return json_answer(
            200,
            json!({ "name": "Velo Boutique", "description": "", "url": "http://shop", "namespaces": ["wc/v3"] }),
        );
    }
    if !path.starts_with("/wp-json/wc/v3/") {
        return json_answer(
            404,
            json!({ "code": "rest_no_route", "message": "No route was found matching the URL and request method.", "data": { "status": 404 } }),
        );
    }
    if !woo_authorized(req) {
        return json_answer(
            401,
            json!({ "code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": { "status": 401 } }),
        );
    }
    match path {
        "/wp-json/wc/v3/customers" => {
            let customers = if query_param(req, "email").as_deref() == Some(BERTA) {
                json!([{ "id": 42, "email": BERTA, "first_name": "Berta", "last_name": "Beispiel", "role": "customer" }])
            } else {
                json!([])
            };
            json_answer(200, customers)
        }
        "/wp-json/wc/v3/orders" => {
            let all: Vec<Value> = if query_param(req, "customer").as_deref() == Some("42") {
                (2001..=2012).rev().map(|n| woo_order(n, BERTA)).collect()
            } else if let Some(search) = query_param(req, "search") {
                // WooCommerce's search is fuzzy: the guest's order, and one of someone else.
                if search == BERTA_GUEST {
                    vec![
                        woo_order(2050, BERTA_GUEST),
                        woo_order(2099, "other@else.test"),
                    ]
                } else {
                    Vec::new()
                }
            } else {
                (2001..=2003).map(|n| woo_order(n, BERTA)).collect()
            };
            woo_page(req, all)
        }
        _ => json_answer(
            404,
            json!({ "code": "rest_no_route", "message": "No route was found matching the URL and request method.", "data": { "status": 404 } }),
        ),
    }
}

impl FakeShop {
    async fn start() -> Self {
        let state = Arc::new(ShopState {
            mode: Mutex::new(Mode::Normal),
            limited_yet: Mutex::new(false),
            requests: Mutex::new(Vec::new()),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        FakeShop {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        *self.state.limited_yet.lock().unwrap() = false;
    }

    fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// An owner of "Shop", signed in.
async fn shop_owner(app: &TestApp) -> OrgId {
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    app.org_id("Shop").await
}

async fn add_connector(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post_form("/settings/integrations", "/settings/integrations", fields)
        .await
}

async fn connectors(app: &TestApp, org: OrgId) -> Vec<order_connector::Model> {
    lethe::assist::orders::store::list(&app.state.db, org)
        .await
        .unwrap()
}

async fn add_shopify(app: &TestApp, org: OrgId, shop: &FakeShop) -> i64 {
    let response = add_connector(
        app,
        &[
            ("kind", "shopify"),
            ("shop_url", &shop.url),
            ("token", SHOPIFY_TOKEN),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    connectors(app, org).await.last().unwrap().id
}

async fn add_woo(app: &TestApp, org: OrgId, shop: &FakeShop) -> i64 {
    let response = add_connector(
        app,
        &[
            ("kind", "woocommerce"),
            ("shop_url", &shop.url),
            ("consumer_key", WOO_KEY),
            ("consumer_secret", WOO_SECRET),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    connectors(app, org).await.last().unwrap().id
}

/// A conversation of a customer with two addresses (`from` wrote, `other` is also theirs).
async fn customer_with_two_addresses(
    app: &TestApp,
    org: OrgId,
    from: &str,
    other: &str,
    body: &str,
) -> (i64, i64) {
    let (customer_id, conversation_id) = app
        .receive(
            org,
            mail(
                &format!("Kundin <{from}>"),
                &format!("o-{}@kunde.test", unique_suffix()),
                "Meine Bestellung",
                body,
            ),
        )
        .await;
    customer_email::ActiveModel {
        organization_id: Set(org),
        customer_id: Set(customer_id),
        email: Set(other.to_owned()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    (customer_id, conversation_id)
}

async fn test_button(app: &TestApp, id: i64) -> String {
    let response = app
        .post_form(
            "/settings/integrations",
            &format!("/settings/integrations/{id}/test"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_shopify_shop_is_linked_tested_and_shows_the_orders_of_both_addresses() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    let bad = add_connector(
        &app,
        &[
            ("kind", "shopify"),
            ("shop_url", &shop.url),
            ("token", "shpat_wrong"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 303);
    let id = connectors(&app, org).await[0].id;
    let (_, conversation_id) = customer_with_two_addresses(
        &app,
        org,
        ANNA,
        ANNA_WORK,
        "Hallo, wo bleibt meine Bestellung #1003? Und order 1011 auch.",
    )
    .await;

    // Act
    let refused = test_button(&app, id).await;
    let edit = app
        .post_form(
            &format!("/settings/integrations/{id}"),
            &format!("/settings/integrations/{id}"),
            &[("shop_url", &shop.url), ("token", SHOPIFY_TOKEN)],
        )
        .await;
    let accepted = test_button(&app, id).await;
    let page = app
        .get_text(&format!("/conversations/{conversation_id}"))
        .await;

    // Assert
    assert!(
        refused.contains("the shop refused the credentials"),
        "{refused}"
    );
    assert_eq!(edit.status(), 303);
    assert!(
        accepted.contains("Connected to Fahrrad Manufaktur."),
        "{accepted}"
    );
    // Both addresses, both pages (1001 and 1002 are on the second page of ten).
    for number in [1001, 1002, 1008, 1009, 1012] {
        assert!(
            page.contains(&format!("id=\"order-{id}-{number}\"")),
            "order {number} missing"
        );
        assert!(page.contains(&item_name(number)), "items of {number}");
    }
    assert!(page.contains("1012.90 EUR"));
    assert!(page.contains("FULFILLED"));
    // The shop's own link, and one built for DHL from company and number.
    assert!(page.contains("www.ups.com/track?tracknum=1Z999AA10123456784"));
    assert!(
        page.contains("https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1")
    );
    assert!(page.contains("tracking-id=JJD00390123456\""));
    // Order numbers in the message link to the order in the panel.
    assert!(
        page.contains(&format!(
            "<a href=\"#order-{id}-1003\" class=\"order-ref\">Bestellung #1003</a>"
        )),
        "{page}"
    );
    assert!(page.contains(&format!(
        "<a href=\"#order-{id}-1011\" class=\"order-ref\">order 1011</a>"
    )));
    let requests = shop.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("POST /admin/api/2025-01/graphql.json")),
        "{requests:?}"
    );
    // Every change is in the audit log, without the token.
    let actions: Vec<String> = audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("integration."))
        .map(|e| {
            assert!(!e.details.contains(SHOPIFY_TOKEN));
            e.action
        })
        .collect();
    assert_eq!(actions, ["integration.created", "integration.updated"]);
}

#[tokio::test]
async fn order_numbers_in_an_html_mail_link_to_the_order_but_not_inside_its_links() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_woo(&app, org, &shop).await;
    let html_mail = mail(
        &format!("Berta <{BERTA}>"),
        &format!("h-{}@kunde.test", unique_suffix()),
        "Zwei Bestellungen",
        "Bestellung 2050 und 2012",
    )
    .html(
        "<p>Guten Tag, wo ist <b>Bestellung 2050</b>?</p>\
         <p>Siehe <a href=\"https://velo.test/konto/order-2012\">order 2012</a>.</p>",
    );
    let (_, conversation_id) = app.receive(org, html_mail).await;

    // Act
    let page = app
        .get_text(&format!("/conversations/{conversation_id}"))
        .await;

    // Assert: 2050 is not among this address's orders, so it leads to the shop's admin
    // search (the ampersand escaped in the attribute).
    assert!(
        page.contains(&format!(
            "<b><a href=\"{}/wp-admin/edit.php?post_type=shop_order&amp;s=2050\" \
             class=\"order-ref\">Bestellung 2050</a></b>",
            shop.url
        )),
        "{page}"
    );
    // The customer's own link keeps its text: no link inside a link.
    assert!(!page.contains("class=\"order-ref\">order 2012"));
    assert!(page.contains("rel=\"noopener noreferrer nofollow\">order 2012</a>"));
}

#[tokio::test]
async fn a_woocommerce_shop_finds_registered_and_guest_orders_across_pages() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    let id = add_woo(&app, org, &shop).await;
    let (_, conversation_id) = customer_with_two_addresses(
        &app,
        org,
        BERTA,
        BERTA_GUEST,
        "Guten Tag, Bestellung 2050 kam nie an.",
    )
    .await;

    // Act
    let accepted = test_button(&app, id).await;
    let page = app
        .get_text(&format!("/conversations/{conversation_id}"))
        .await;

    // Assert
    assert!(
        accepted.contains("Connected to Velo Boutique."),
        "{accepted}"
    );
    // Registered orders from both pages, the guest order, not the stranger's.
    for number in [2001, 2002, 2012, 2050] {
        assert!(
            page.contains(&format!("id=\"order-{id}-{number}\"")),
            "order {number} missing"
        );
    }
    assert!(!page.contains(&item_name(2099)));
    assert!(page.contains("2012.50 EUR"));
    assert!(page.contains("gls-group.com/GROUP/en/parcel-tracking?match=GLS7700112233"));
    assert!(page.contains(&format!(
        "<a href=\"#order-{id}-2050\" class=\"order-ref\">Bestellung 2050</a>"
    )));
    let requests = shop.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("customers?email=berta%40kunde.test")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("customer=42") && r.contains("page=2")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("search=berta.privat%40mail.test")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn bad_woocommerce_credentials_are_named_by_the_test_button() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_connector(
        &app,
        &[
            ("kind", "woocommerce"),
            ("shop_url", &shop.url),
            ("consumer_key", WOO_KEY),
            ("consumer_secret", "cs_wrong"),
        ],
    )
    .await;
    let id = connectors(&app, org).await[0].id;

    // Act
    let refused = test_button(&app, id).await;

    // Assert
    assert!(
        refused.contains("the shop refused the credentials"),
        "{refused}"
    );
}

#[tokio::test]
async fn tracking_link_and_summary_go_into_the_draft_without_javascript() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    let id = add_shopify(&app, org, &shop).await;
    let (_, conversation_id) =
        customer_with_two_addresses(&app, org, ANNA, ANNA_WORK, "Wo ist mein Paket?").await;
    let page = format!("/conversations/{conversation_id}");
    let action = format!("{page}/orders/insert");
    let connector = id.to_string();

    // Act
    let tracking = app
        .post_form(
            &page,
            &action,
            &[
                ("connector", &connector),
                ("order", "1012"),
                ("what", "tracking"),
            ],
        )
        .await;
    let summary = app
        .post_form(
            &page,
            &action,
            &[
                ("connector", &connector),
                ("order", "1011"),
                ("what", "summary"),
            ],
        )
        .await;
    let unknown = app
        .post_form(
            &page,
            &action,
            &[
                ("connector", &connector),
                ("order", "9999"),
                ("what", "summary"),
            ],
        )
        .await;
    let shown = app.get_text(&page).await;

    // Assert
    assert_eq!(tracking.status(), 303);
    assert!(location(&tracking).starts_with(&page));
    assert_eq!(summary.status(), 303);
    assert_eq!(unknown.status(), 404);
    let saved = draft::Entity::find()
        .filter(draft::Column::ConversationId.eq(conversation_id))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("a draft");
    assert!(saved.text_body.contains("DHL Express JJD00390123456: https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1&tracking-id=JJD00390123456"), "{}", saved.text_body);
    assert!(
        saved.text_body.contains("#1011 (2026-11-11)"),
        "{}",
        saved.text_body
    );
    assert!(
        saved
            .text_body
            .contains(&format!("2 × {}", item_name(1011)))
    );
    assert_eq!(saved.to_addresses, ANNA);
    // The page shows the draft in the reply box; the buttons carry the text for orders.js.
    assert!(
        shown.contains("tracking-id=JJD00390123456</textarea>")
            || shown.contains("#1011 (2026-11-11)")
    );
    assert!(shown.contains("class=\"inline order-insert\" data-text=\""));
}

#[tokio::test]
async fn a_slow_or_rate_limiting_shop_leaves_the_page_working_and_says_why() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_shopify(&app, org, &shop).await;
    let (_, conversation_id) =
        customer_with_two_addresses(&app, org, ANNA, ANNA_WORK, "Hallo").await;
    let page = format!("/conversations/{conversation_id}");

    // Act
    shop.set_mode(Mode::Slow);
    // The shop answers after 10 s: the page's "did not answer in time" shows the budget cut
    // it off (without it the page would wait and list the orders).
    let slow = app.get_text(&page).await;
    shop.set_mode(Mode::LimitedAlways);
    let limited = app.get_text(&page).await;
    shop.set_mode(Mode::LimitedOnce);
    let before = shop.requests().len();
    let retried = app.get_text(&page).await;
    let retried_requests = shop.requests().len() - before;

    // Assert
    assert!(
        slow.contains("Orders unavailable: the shop did not answer in time"),
        "{slow}"
    );
    assert!(slow.contains("id=\"reply-text\""), "the page still works");
    assert!(
        limited.contains("Orders unavailable: the shop is rate-limiting requests"),
        "{limited}"
    );
    // Throttled once (THROTTLED in a 200), retried within the budget, then two pages.
    assert!(retried.contains(&item_name(1012)), "{retried}");
    assert_eq!(retried_requests, 3);
}

#[tokio::test]
async fn a_woocommerce_429_is_retried_after_retry_after() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_woo(&app, org, &shop).await;
    let (_, conversation_id) =
        customer_with_two_addresses(&app, org, BERTA, BERTA_GUEST, "Hallo").await;
    shop.set_mode(Mode::LimitedOnce);

    // Act
    let started = Instant::now();
    let page = app
        .get_text(&format!("/conversations/{conversation_id}"))
        .await;

    // Assert
    assert!(page.contains(&item_name(2050)), "{page}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
}

#[tokio::test]
async fn agents_cannot_reach_integrations_and_other_organizations_get_404() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    let id = add_shopify(&app, org, &shop).await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    app.create_user("owner@other.test", "Other", "owner").await;
    let other = app.another_browser();
    other.login("owner@other.test").await;

    // Act
    let agent_list = agent.get("/settings/integrations").await;
    let agent_edit = agent.get(&format!("/settings/integrations/{id}")).await;
    let other_edit = other.get(&format!("/settings/integrations/{id}")).await;
    let other_list = other.get_text("/settings/integrations").await;
    let other_delete = other
        .post_form(
            "/settings/integrations",
            &format!("/settings/integrations/{id}/delete"),
            &[],
        )
        .await;

    // Assert
    assert_eq!(agent_list.status(), 403);
    assert_eq!(agent_edit.status(), 403);
    assert_eq!(other_edit.status(), 404);
    assert_eq!(other_delete.status(), 404);
    assert!(!other_list.contains(&shop.url));
    assert_eq!(connectors(&app, org).await.len(), 1);
}

#[tokio::test]
async fn bad_integration_forms_say_what_is_wrong_and_change_nothing() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;

    // Act
    let cases = [
        (
            vec![("kind", "shopify"), ("shop_url", ""), ("token", "t")],
            "Enter the shop&#x27;s address.",
        ),
        (
            vec![
                ("kind", "shopify"),
                ("shop_url", "ftp://shop.test"),
                ("token", "t"),
            ],
            "must start with https://",
        ),
        (
            vec![
                ("kind", "shopify"),
                ("shop_url", shop.url.as_str()),
                ("token", " "),
            ],
            "Enter the credentials of the shop.",
        ),
        (
            vec![
                ("kind", "woocommerce"),
                ("shop_url", shop.url.as_str()),
                ("consumer_key", "ck"),
            ],
            "Enter the credentials of the shop.",
        ),
        (
            vec![("kind", "magento"), ("shop_url", shop.url.as_str())],
            "Choose Shopify or WooCommerce.",
        ),
        (
            vec![
                ("kind", "shopify"),
                ("shop_url", "https://no-such-shop.invalid"),
                ("token", "t"),
            ],
            "cannot be found",
        ),
    ];
    let mut answers = Vec::new();
    for (fields, _) in &cases {
        let response = add_connector(&app, fields).await;
        answers.push((response.status(), response.text().await.unwrap()));
    }

    // Assert
    for ((status, html), (_, expected)) in answers.iter().zip(&cases) {
        assert_eq!(*status, 422);
        assert!(
            html.contains(expected) || html.contains(&expected.replace("&#x27;", "&#39;")),
            "{expected}: {html}"
        );
    }
    assert!(connectors(&app, org).await.is_empty());
    assert!(shop.requests().is_empty());
}

#[tokio::test]
async fn a_restricted_customers_orders_are_never_requested_and_their_cache_is_dropped() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_shopify(&app, org, &shop).await;
    add_woo(&app, org, &shop).await;
    let (customer_id, conversation_id) =
        customer_with_two_addresses(&app, org, ANNA, ANNA_WORK, "Bestellung #1003").await;
    let conversation_page = format!("/conversations/{conversation_id}");
    let before = app.get_text(&conversation_page).await;
    let cached_before = app.state.orders.holds(org, customer_id);
    let requests_before = shop.requests().len();
    let customer_page = format!("/customers/{customer_id}");

    // Act
    let restricted = app
        .post_form(
            &customer_page,
            &format!("{customer_page}/restriction"),
            &[("reason", "disputes the accuracy")],
        )
        .await;
    let cached_after = app.state.orders.holds(org, customer_id);
    let page = app.get_text(&conversation_page).await;
    let insert = app
        .post_form(
            &conversation_page,
            &format!("{conversation_page}/orders/insert"),
            &[("connector", "1"), ("order", "1003"), ("what", "summary")],
        )
        .await;

    // Assert
    assert!(before.contains(&item_name(1003)));
    assert!(cached_before);
    assert_eq!(restricted.status(), 303);
    assert!(!cached_after, "restriction drops the cached orders");
    assert!(page.contains("id=\"orders-restricted\""), "{page}");
    assert!(!page.contains(&item_name(1003)));
    assert_eq!(insert.status(), 400);
    assert_eq!(
        shop.requests().len(),
        requests_before,
        "no request after the restriction: {:?}",
        shop.requests()
    );
    assert!(!app.state.orders.holds(org, customer_id));
}

#[tokio::test]
async fn orders_are_kept_in_memory_only_credentials_sealed_and_erasure_drops_them() {
    // Arrange
    let app = spawn_app().await;
    let org = shop_owner(&app).await;
    let shop = FakeShop::start().await;
    add_shopify(&app, org, &shop).await;
    add_woo(&app, org, &shop).await;
    let (anna, anna_conversation) =
        customer_with_two_addresses(&app, org, ANNA, ANNA_WORK, "Wo ist mein Paket?").await;
    let (berta, berta_conversation) =
        customer_with_two_addresses(&app, org, BERTA, BERTA_GUEST, "Hallo").await;

    // Act
    let anna_page = app
        .get_text(&format!("/conversations/{anna_conversation}"))
        .await;
    let berta_page = app
        .get_text(&format!("/conversations/{berta_conversation}"))
        .await;
    let requests_after_first_view = shop.requests().len();
    app.get_text(&format!("/conversations/{anna_conversation}"))
        .await;
    let cached_view_requests = shop.requests().len() - requests_after_first_view;
    lethe::db::checkpoint(&app.state.db).await.unwrap();
    let mut needles: Vec<String> = [1001, 1005, 1009, 1012, 2001, 2012, 2050]
        .into_iter()
        .map(item_name)
        .collect();
    needles.extend(
        [
            "JJD00390123456",
            "1Z999AA10123456784",
            "GLS7700112233",
            SHOPIFY_TOKEN,
            WOO_SECRET,
        ]
        .map(String::from),
    );
    let found = traces(&app.data_dir, &needles);
    let held_before = (
        app.state.orders.holds(org, anna),
        app.state.orders.holds(org, berta),
    );
    app.erase(org, anna).await;

    // Assert
    assert!(anna_page.contains(&item_name(1012)) && anna_page.contains("JJD00390123456"));
    assert!(berta_page.contains(&item_name(2050)) && berta_page.contains("GLS7700112233"));
    assert_eq!(
        cached_view_requests, 0,
        "the second view is served from memory"
    );
    assert!(found.is_empty(), "{found:?}");
    for row in connectors(&app, org).await {
        assert!(!row.credentials_sealed.contains(SHOPIFY_TOKEN));
        assert!(!row.credentials_sealed.contains(WOO_SECRET));
    }
    assert_eq!(held_before, (true, true));
    assert!(
        !app.state.orders.holds(org, anna),
        "erasure evicts the orders"
    );
    assert!(app.state.orders.holds(org, berta));
}
