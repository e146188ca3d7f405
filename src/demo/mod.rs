//! `lethe demo-data`: realistic multilingual shop conversations (orders, delivery, returns,
//! refunds, damaged goods, invoices in English, German, French, Spanish, Italian and Dutch),
//! written straight into the database in batched transactions, the same for the same seed.
//!
//! Ids are assigned here (after the current maximum) so that a batch is a handful of
//! multi-row inserts; the database triggers queue every message for the search index as
//! usual. Run it while the server is stopped.

mod text;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect,
};

use crate::db::InOrg;
use crate::db::entity::{
    conversation, conversation_tag, customer, customer_email, membership, message, tag,
};
use crate::orgs::OrgId;
use text::{LANGUAGES, Language};

/// Conversations per transaction.
const BATCH: u64 = 500;
/// Rows per multi-row INSERT (well under SQLite's and PostgreSQL's parameter limits).
const ROWS_PER_INSERT: usize = 400;
/// Extra tags some conversations get besides their topic.
const EXTRA_TAGS: [&str; 2] = ["vip", "urgent"];

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct DemoOptions {
    pub conversations: u64,
    pub seed: u64,
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemoOutcome {
    pub conversations: u64,
    pub messages: u64,
}

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a>(&mut self, items: &'a [&'static str]) -> &'a str {
        let len = u64::try_from(items.len()).unwrap_or(1);
        items
            .get(usize::try_from(self.below(len)).unwrap_or(0))
            .copied()
            .unwrap_or_default()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The placeholders of one conversation.
struct Facts {
    first: String,
    last: String,
    email: String,
    city: String,
    street: String,
    product: String,
    order: String,
    tracking: String,
    amount: String,
    date: String,
}

impl Facts {
    fn new(rng: &mut Rng, lang: &Language, customer_id: i64, start: DateTime<Utc>) -> Facts {
        let first = rng.pick(lang.first_names).to_owned();
        let last = rng.pick(lang.last_names).to_owned();
        let local: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let domains = ["example.com", "example.org", "example.net", "mail.example"];
        let domain = rng.pick(&domains);
        Facts {
            email: format!("{local}.{customer_id}@{domain}"),
            city: rng.pick(lang.cities).to_owned(),
            street: rng.pick(lang.streets).to_owned(),
            product: rng.pick(lang.products).to_owned(),
            order: format!("ORD-{}-{:06}", start.format("%Y"), rng.below(1_000_000)),
            tracking: format!("JJD{:014}", rng.below(100_000_000_000_000)),
            amount: format!("{}.{:02}", 10 + rng.below(490), rng.below(100)),
            date: start.format("%d.%m.%Y").to_string(),
            first,
            last,
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{first}", &self.first)
            .replace("{last}", &self.last)
            .replace("{city}", &self.city)
            .replace("{street}", &self.street)
            .replace("{product}", &self.product)
            .replace("{order}", &self.order)
            .replace("{tracking}", &self.tracking)
            .replace("{amount}", &self.amount)
            .replace("{date}", &self.date)
    }
}

/// The next free id of a table.
async fn next_id<E: EntityTrait>(db: &impl ConnectionTrait, column: E::Column) -> Result<i64, DbErr>
where
    E::Column: ColumnTrait,
{
    let max: Option<Option<i64>> = E::find()
        .select_only()
        .column_as(column.max(), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

/// Ids of the organization's tags for every topic and extra tag, creating missing ones.
async fn tag_ids(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<(String, i64)>, DbErr> {
    let mut names: Vec<&str> = LANGUAGES[0].topics.iter().map(|t| t.tag).collect();
    names.extend(EXTRA_TAGS);
    let mut out = Vec::new();
    for name in names {
        let existing: Option<i64> = tag::Entity::find_in(org)
            .select_only()
            .column(tag::Column::Id)
            .filter(tag::Column::Name.eq(name))
            .into_tuple()
            .one(db)
            .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                tag::Entity::insert(tag::ActiveModel {
                    organization_id: Set(org),
                    name: Set(name.to_owned()),
                    ..Default::default()
                })
                .exec(db)
                .await?
                .last_insert_id
            }
        };
        out.push((name.to_owned(), id));
    }
    Ok(out)
}

/// Rows of one batch.
#[derive(Default)]
struct Batch {
    customers: Vec<customer::ActiveModel>,
    emails: Vec<customer_email::ActiveModel>,
    conversations: Vec<conversation::ActiveModel>,
    messages: Vec<message::ActiveModel>,
    tags: Vec<conversation_tag::ActiveModel>,
}

/// Ids handed out so far.
struct Ids {
    customer: i64,
    email: i64,
    conversation: i64,
    message: i64,
}

/// Generates `options.conversations` conversations in `org`.
pub async fn generate(
    db: &DatabaseConnection,
    org: OrgId,
    options: DemoOptions,
) -> Result<DemoOutcome, DbErr> {
    let tags = tag_ids(db, org).await?;
    let members: Vec<i64> = membership::Entity::find_in(org)
        .select_only()
        .column(membership::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    let mut ids = Ids {
        customer: next_id::<customer::Entity>(db, customer::Column::Id).await?,
        email: next_id::<customer_email::Entity>(db, customer_email::Column::Id).await?,
        conversation: next_id::<conversation::Entity>(db, conversation::Column::Id).await?,
        message: next_id::<message::Entity>(db, message::Column::Id).await?,
    };
    let mut rng = Rng(options.seed ^ 0x5EED_1E7E);
    let mut outcome = DemoOutcome::default();
    let mut done = 0;
    while done < options.conversations {
        let n = BATCH.min(options.conversations - done);
        let mut batch = Batch::default();
        for _ in 0..n {
            outcome.messages += conversation(
                &mut rng,
                org,
                options.seed,
                &tags,
                &members,
                &mut ids,
                &mut batch,
            );
        }
        let txn = crate::db::begin_write(db).await?;
        insert_all(&txn, batch.customers).await?;
        insert_all(&txn, batch.emails).await?;
        insert_all(&txn, batch.conversations).await?;
        insert_all(&txn, batch.messages).await?;
        insert_all(&txn, batch.tags).await?;
        txn.commit().await?;
        done += n;
        outcome.conversations = done;
    }
    if db.get_database_backend() == DbBackend::Postgres {
        for table in ["customers", "customer_emails", "conversations", "messages"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
    }
    Ok(outcome)
}

async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Adds one conversation (customer, messages, tags) to the batch; returns its message count.
fn conversation(
    rng: &mut Rng,
    org: OrgId,
    seed: u64,
    tags: &[(String, i64)],
    members: &[i64],
    ids: &mut Ids,
    batch: &mut Batch,
) -> u64 {
    let lang = &LANGUAGES[usize::try_from(rng.below(6)).unwrap_or(0)];
    let topic = &lang.topics[usize::try_from(rng.below(5)).unwrap_or(0)];
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let start = anchor - Duration::minutes(i64::try_from(rng.below(365 * 24 * 60)).unwrap_or(0));
    let customer_id = ids.customer;
    ids.customer += 1;
    let facts = Facts::new(rng, lang, customer_id, start);
    let conversation_id = ids.conversation;
    ids.conversation += 1;
    let shop = "support@shop.example";
    let agent_names = ["Support", "Kundenservice", "Service client"];
    let agent = rng.pick(&agent_names).to_owned();

    batch.customers.push(customer::ActiveModel {
        id: Set(customer_id),
        organization_id: Set(org),
        display_name: Set(format!("{} {}", facts.first, facts.last)),
        created_at: Set(start),
        ..Default::default()
    });
    batch.emails.push(customer_email::ActiveModel {
        id: Set(ids.email),
        organization_id: Set(org),
        customer_id: Set(customer_id),
        email: Set(facts.email.clone()),
    });
    ids.email += 1;

    let subject = facts.fill(rng.pick(topic.subjects));
    let count = 4 + rng.below(13);
    let mut at = start;
    for i in 0..count {
        let (direction, body) = if i == 0 {
            let body = format!(
                "{}\n\n{}\n\n{}",
                rng.pick(lang.greetings),
                rng.pick(topic.openings),
                rng.pick(lang.sign_offs)
            );
            ("inbound", body)
        } else if i > 1 && rng.chance(10) {
            ("note", rng.pick(lang.notes).to_owned())
        } else if i % 2 == 1 {
            let text = if i == 1 {
                rng.pick(topic.replies)
            } else {
                rng.pick(lang.agent_follow_ups)
            };
            (
                "outbound",
                format!("{}\n\n{}\n\n{agent}", rng.pick(lang.agent_greetings), text),
            )
        } else {
            let body = format!(
                "{}\n\n{}",
                rng.pick(lang.follow_ups),
                rng.pick(lang.sign_offs)
            );
            ("inbound", body)
        };
        let body = facts.fill(&body);
        let (from_name, from_address, to) = match direction {
            "inbound" => (
                format!("{} {}", facts.first, facts.last),
                facts.email.clone(),
                shop.to_owned(),
            ),
            "outbound" => (agent.clone(), shop.to_owned(), facts.email.clone()),
            _ => (agent.clone(), shop.to_owned(), String::new()),
        };
        let message_id = ids.message;
        ids.message += 1;
        batch.messages.push(message::ActiveModel {
            id: Set(message_id),
            organization_id: Set(org),
            conversation_id: Set(conversation_id),
            direction: Set(direction.to_owned()),
            kind: Set("normal".to_owned()),
            message_id_header: Set(format!("<demo.{seed}.{message_id}@lethe.demo>")),
            in_reply_to: Set(String::new()),
            references_header: Set(String::new()),
            from_name: Set(from_name),
            from_address: Set(from_address),
            to_addresses: Set(to),
            cc_addresses: Set(String::new()),
            bcc_addresses: Set(String::new()),
            subject: Set(if i == 0 {
                subject.clone()
            } else {
                format!("Re: {subject}")
            }),
            text_body: Set(body),
            html_body: Set(None),
            parse_notes: Set("[]".to_owned()),
            author_id: Set(None),
            delivery_status: Set((direction == "outbound").then(|| "sent".to_owned())),
            delivery_error: Set(None),
            sent_at: Set(Some(at)),
            created_at: Set(at),
        });
        at += Duration::minutes(30 + i64::try_from(rng.below(48 * 60)).unwrap_or(0));
    }
    let status = match rng.below(10) {
        0..=4 => "closed",
        5..=6 => "pending",
        _ => "open",
    };
    let assignee = if !members.is_empty() && rng.chance(40) {
        members
            .get(usize::try_from(rng.below(members.len() as u64)).unwrap_or(0))
            .copied()
    } else {
        None
    };
    batch.conversations.push(conversation::ActiveModel {
        id: Set(conversation_id),
        organization_id: Set(org),
        channel_id: Set(None),
        customer_id: Set(customer_id),
        token: Set(format!("D{conversation_id:09}")),
        subject: Set(subject),
        status: Set(status.to_owned()),
        assignee_id: Set(assignee),
        message_count: Set(i32::try_from(count).unwrap_or(i32::MAX)),
        created_at: Set(start),
        last_activity_at: Set(at),
        closed_at: Set((status == "closed").then_some(at)),
        ..Default::default()
    });
    for (name, tag_id) in tags {
        let wanted = if name == topic.tag {
            rng.chance(80)
        } else if EXTRA_TAGS.contains(&name.as_str()) {
            rng.chance(5)
        } else {
            false
        };
        if wanted {
            batch.tags.push(conversation_tag::ActiveModel {
                conversation_id: Set(conversation_id),
                tag_id: Set(*tag_id),
            });
        }
    }
    count
}
