//! The schema, as sea-orm migrations written once for SQLite and PostgreSQL.
//! One file per migration: `DeriveMigrationName` names a migration after its file.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_accounts;
mod m20261122_000002_create_inbox;
mod m20261122_000005_search;
mod m20261122_000006_privacy;
mod m20261122_000007_retention;
mod m20261202_000008_customer_rights;
mod m20261202_000009_org_lifecycle_and_api_keys;
mod m20261203_000010_foreign_key_indexes;
mod m20261205_000011_keyed_audit_chain;
mod m20261205_000012_api_key_scopes;
mod m20261205_000013_two_factor_and_sessions;
mod m20261205_000014_passkeys;
mod m20261206_000016_webhooks;
mod m20261207_000019_channel_oauth;
mod m20261207_000020_objections_and_verification;
mod m20261207_000021_access_log_and_audit_actors;
mod m20261207_000022_message_bcc;
mod m20261207_000023_backup_schedule;
mod m20261208_000024_create_processing_purposes;
mod m20261208_000025_signatures;
mod m20261208_000026_create_drafts;
mod m20261208_000028_create_api_idempotency;
mod m20261208_000029_snooze_and_spam;
mod m20261208_000030_conversation_reads;
mod m20261208_000031_create_conversation_aliases;
mod m20261208_000032_notifications;
mod m20261208_000033_sla_and_saved_views;
mod m20261208_000034_report_facts;
mod m20261208_000035_chat_channels;
mod m20261208_000036_chat_blocked_visitors;
mod m20261208_000037_create_leases;
mod m20261208_000038_folder_count_indexes;
mod m20261208_000041_search_log_positions;
mod m20261208_000042_create_order_connectors;
mod m20261208_000043_knowledge_base;
mod m20261208_000045_assist_models;
mod m20261208_000046_assist_suggestions;
mod m20261208_000047_assist_suggestion_sets;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_accounts::Migration),
            Box::new(m20261122_000002_create_inbox::Migration),
            Box::new(m20261122_000005_search::Migration),
            Box::new(m20261122_000006_privacy::Migration),
            Box::new(m20261122_000007_retention::Migration),
            Box::new(m20261202_000008_customer_rights::Migration),
            Box::new(m20261202_000009_org_lifecycle_and_api_keys::Migration),
            Box::new(m20261203_000010_foreign_key_indexes::Migration),
            Box::new(m20261205_000011_keyed_audit_chain::Migration),
            Box::new(m20261205_000012_api_key_scopes::Migration),
            Box::new(m20261205_000013_two_factor_and_sessions::Migration),
            Box::new(m20261205_000014_passkeys::Migration),
            Box::new(m20261206_000016_webhooks::Migration),
            Box::new(m20261207_000019_channel_oauth::Migration),
            Box::new(m20261207_000020_objections_and_verification::Migration),
            Box::new(m20261207_000021_access_log_and_audit_actors::Migration),
            Box::new(m20261207_000022_message_bcc::Migration),
            Box::new(m20261207_000023_backup_schedule::Migration),
            Box::new(m20261208_000024_create_processing_purposes::Migration),
            Box::new(m20261208_000025_signatures::Migration),
            Box::new(m20261208_000026_create_drafts::Migration),
            Box::new(m20261208_000028_create_api_idempotency::Migration),
            Box::new(m20261208_000029_snooze_and_spam::Migration),
            Box::new(m20261208_000030_conversation_reads::Migration),
            Box::new(m20261208_000031_create_conversation_aliases::Migration),
            Box::new(m20261208_000032_notifications::Migration),
            Box::new(m20261208_000033_sla_and_saved_views::Migration),
            Box::new(m20261208_000034_report_facts::Migration),
            Box::new(m20261208_000035_chat_channels::Migration),
            Box::new(m20261208_000036_chat_blocked_visitors::Migration),
            Box::new(m20261208_000037_create_leases::Migration),
            Box::new(m20261208_000038_folder_count_indexes::Migration),
            Box::new(m20261208_000041_search_log_positions::Migration),
            Box::new(m20261208_000042_create_order_connectors::Migration),
            Box::new(m20261208_000043_knowledge_base::Migration),
            Box::new(m20261208_000045_assist_models::Migration),
            Box::new(m20261208_000046_assist_suggestions::Migration),
            Box::new(m20261208_000047_assist_suggestion_sets::Migration),
        ]
    }
}
