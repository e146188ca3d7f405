//! Lethe's integration tests: one binary (linking the application once), each test against a
//! real server on a free port with its own data directory and database.

mod helpers;
mod smtp;

mod accessibility;
mod accounts;
mod api;
mod api_contract;
mod api_v1;
mod audit;
mod backup;
mod browser;
mod browser_privacy;
mod browser_retention;
mod channels;
mod cli;
mod compose;
mod drafts;
mod durability;
mod format;
mod imap;
mod import;
mod inbox;
mod merge_split;
mod metrics;
mod nodes;
mod notifications;
mod oauth;
mod organizations;
mod passkeys;
mod privacy;
mod privacy_rights;
mod rate_limits;
mod reports;
mod retention;
mod saved_views;
mod scanner;
mod search;
mod security;
mod shell;
mod sla;
mod tenancy;
mod tls;
mod triage;
mod upgrade;
mod webhooks;
