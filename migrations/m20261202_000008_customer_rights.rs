//! Customer rights (src/privacy/): the customer record's phone number and postal address, the
//! restriction of processing (since when and why), and search-queue triggers so that every
//! change of a customer's email addresses reaches the search index.
//!
//! The triggers of `m20261122_000005_search` re-index a customer's conversations when the
//! display name or an address's text changes. Rectifying and merging also add, remove and move
//! addresses, and move conversations between customers: those rows are queued here, with
//! `conversation.text` where old text must be purged from the index files.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum Customers {
    Table,
    OrganizationId,
    Phone,
    PostalAddress,
    RestrictedAt,
    RestrictionReason,
}

/// One trigger (as in `m20261122_000005_search`, whose helpers are private to that file).
struct Trigger {
    name: &'static str,
    table: &'static str,
    event: &'static str,
    when: Option<&'static str>,
    insert: &'static str,
}

const QUEUE_COLUMNS: &str =
    "INSERT INTO search_queue (organization_id, message_id, conversation_id, op)";

const TRIGGERS: &[Trigger] = &[
    Trigger {
        name: "search_customer_emails_insert",
        table: "customer_emails",
        event: "INSERT",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.update' FROM conversations WHERE customer_id = NEW.customer_id",
    },
    Trigger {
        name: "search_customer_emails_delete",
        table: "customer_emails",
        event: "DELETE",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.text' FROM conversations WHERE customer_id = OLD.customer_id",
    },
    Trigger {
        name: "search_customer_emails_move",
        table: "customer_emails",
        event: "UPDATE OF customer_id",
        when: Some("OLD.customer_id IS DISTINCT FROM NEW.customer_id"),
        insert: "SELECT organization_id, NULL, id, 'conversation.text' FROM conversations WHERE customer_id IN (OLD.customer_id, NEW.customer_id)",
    },
    Trigger {
        name: "search_conversations_customer_text",
        table: "conversations",
        event: "UPDATE OF customer_id",
        when: Some("OLD.customer_id IS DISTINCT FROM NEW.customer_id"),
        insert: "SELECT NEW.organization_id, NULL, NEW.id, 'conversation.text'",
    },
];

fn sqlite_trigger(t: &Trigger) -> String {
    let when = t
        .when
        .map(|w| format!(" WHEN {}", w.replace("IS DISTINCT FROM", "IS NOT")))
        .unwrap_or_default();
    format!(
        "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {QUEUE_COLUMNS} {insert}; END",
        name = t.name,
        event = t.event,
        table = t.table,
        insert = t.insert,
    )
}

fn postgres_trigger(t: &Trigger) -> [String; 2] {
    let when = t.when.map(|w| format!(" WHEN ({w})")).unwrap_or_default();
    [
        format!(
            "CREATE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {QUEUE_COLUMNS} {insert}; RETURN NULL; END $$",
            name = t.name,
            insert = t.insert,
        ),
        format!(
            "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {name}_fn()",
            name = t.name,
            event = t.event,
            table = t.table,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement.
        for column in [
            string_null(Customers::Phone),
            text_null(Customers::PostalAddress),
            timestamp_with_time_zone_null(Customers::RestrictedAt),
            text_null(Customers::RestrictionReason),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customers::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_customers_restricted")
                    .table(Customers::Table)
                    .col(Customers::OrganizationId)
                    .col(Customers::RestrictedAt)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for trigger in TRIGGERS {
            match manager.get_database_backend() {
                DbBackend::Postgres => {
                    for statement in postgres_trigger(trigger) {
                        db.execute_unprepared(&statement).await?;
                    }
                }
                _ => {
                    db.execute_unprepared(&sqlite_trigger(trigger)).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for trigger in TRIGGERS {
            match manager.get_database_backend() {
                DbBackend::Postgres => {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        trigger.name, trigger.table
                    ))
                    .await?;
                    db.execute_unprepared(&format!(
                        "DROP FUNCTION IF EXISTS {}_fn()",
                        trigger.name
                    ))
                    .await?;
                }
                _ => {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {}", trigger.name))
                        .await?;
                }
            }
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_customers_restricted")
                    .table(Customers::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Customers::RestrictionReason,
            Customers::RestrictedAt,
            Customers::PostalAddress,
            Customers::Phone,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
