//! The search queue: an outbox of index operations that database triggers fill in the same
//! transaction as every change to messages, conversations, tags, attachments, customers and
//! channels. The indexer (`src/search/indexer.rs`) drains it, so no feature code can forget to
//! tell the index, and a crash between the database commit and the index commit is caught up
//! at the next start.
//!
//! Each row names a message (`message_id`) or a conversation (`conversation_id`) whose search
//! documents must be brought in line with the database; `op` says what happened, so the indexer
//! knows when old text must be purged from the index files.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum SearchQueue {
    Table,
    Id,
    OrganizationId,
    MessageId,
    ConversationId,
    Op,
    CreatedAt,
}

/// One trigger: its name, table, event (with an optional column list), the optional `WHEN`
/// condition and the `INSERT … SELECT` it runs (written with `NEW`/`OLD`, valid in both
/// backends).
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
        name: "search_messages_insert",
        table: "messages",
        event: "INSERT",
        when: None,
        insert: "SELECT NEW.organization_id, NEW.id, NEW.conversation_id, 'message.insert'",
    },
    Trigger {
        name: "search_messages_update",
        table: "messages",
        event: "UPDATE OF subject, text_body, from_name, from_address, to_addresses, cc_addresses, conversation_id, direction",
        when: None,
        insert: "SELECT NEW.organization_id, NEW.id, NEW.conversation_id, 'message.update'",
    },
    Trigger {
        name: "search_messages_delete",
        table: "messages",
        event: "DELETE",
        when: None,
        insert: "SELECT OLD.organization_id, OLD.id, OLD.conversation_id, 'message.delete'",
    },
    Trigger {
        name: "search_conversations_update",
        table: "conversations",
        event: "UPDATE OF status, assignee_id, channel_id, customer_id",
        when: Some(
            "OLD.status IS DISTINCT FROM NEW.status OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id \
             OR OLD.channel_id IS DISTINCT FROM NEW.channel_id OR OLD.customer_id IS DISTINCT FROM NEW.customer_id",
        ),
        insert: "SELECT NEW.organization_id, NULL, NEW.id, 'conversation.update'",
    },
    Trigger {
        name: "search_conversations_subject",
        table: "conversations",
        event: "UPDATE OF subject",
        when: Some("OLD.subject IS DISTINCT FROM NEW.subject"),
        insert: "SELECT NEW.organization_id, NULL, NEW.id, 'conversation.text'",
    },
    Trigger {
        name: "search_conversations_delete",
        table: "conversations",
        event: "DELETE",
        when: None,
        insert: "SELECT OLD.organization_id, NULL, OLD.id, 'conversation.delete'",
    },
    Trigger {
        name: "search_conversation_tags_insert",
        table: "conversation_tags",
        event: "INSERT",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.update' FROM conversations WHERE id = NEW.conversation_id",
    },
    Trigger {
        name: "search_conversation_tags_delete",
        table: "conversation_tags",
        event: "DELETE",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.update' FROM conversations WHERE id = OLD.conversation_id",
    },
    Trigger {
        name: "search_tags_rename",
        table: "tags",
        event: "UPDATE OF name",
        when: None,
        insert: "SELECT c.organization_id, NULL, c.id, 'conversation.update' FROM conversations c \
                 JOIN conversation_tags ct ON ct.conversation_id = c.id WHERE ct.tag_id = NEW.id",
    },
    Trigger {
        name: "search_attachments_insert",
        table: "attachments",
        event: "INSERT",
        when: None,
        insert: "SELECT NEW.organization_id, NEW.message_id, NULL, 'message.attachment'",
    },
    Trigger {
        name: "search_attachments_delete",
        table: "attachments",
        event: "DELETE",
        when: None,
        insert: "SELECT OLD.organization_id, OLD.message_id, NULL, 'message.attachment'",
    },
    Trigger {
        name: "search_customers_update",
        table: "customers",
        event: "UPDATE OF display_name",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.text' FROM conversations WHERE customer_id = NEW.id",
    },
    Trigger {
        name: "search_customer_emails_update",
        table: "customer_emails",
        event: "UPDATE OF email",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.text' FROM conversations WHERE customer_id = NEW.customer_id",
    },
    Trigger {
        name: "search_channels_rename",
        table: "channels",
        event: "UPDATE OF name",
        when: None,
        insert: "SELECT organization_id, NULL, id, 'conversation.update' FROM conversations WHERE channel_id = NEW.id",
    },
];

fn sqlite_trigger(t: &Trigger) -> String {
    // SQLite spells IS DISTINCT FROM as IS NOT.
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
        manager
            .create_table(
                Table::create()
                    .table(SearchQueue::Table)
                    .col(big_pk_auto(SearchQueue::Id))
                    .col(big_integer(SearchQueue::OrganizationId))
                    .col(big_integer_null(SearchQueue::MessageId))
                    .col(big_integer_null(SearchQueue::ConversationId))
                    .col(string(SearchQueue::Op))
                    .col(
                        timestamp_with_time_zone(SearchQueue::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
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
            .drop_table(Table::drop().table(SearchQueue::Table).to_owned())
            .await
    }
}
