//! Lethe: a self-hosted customer-support inbox that keeps customer data on the merchant's server.
//!
//! The crate is cut by feature: each folder owns its routes, queries and logic.
//! `app.rs` holds the shared state and the one route table.

pub mod api;
pub mod app;
pub mod assist;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod cores;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod inbox;
pub mod jobs;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod orgs;
pub mod privacy;
pub mod records;
pub mod reports;
pub mod retention;
pub mod search;
pub mod sla;
pub mod state;
pub mod tls;
pub mod web;
pub mod webhooks;
