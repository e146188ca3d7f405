//! Lethe's integration tests: one binary (linking the application once), each test against a
//! real server on a free port with its own data directory and database.

mod helpers;
mod smtp;

mod accounts;
mod channels;
mod browser;
mod cli;
mod imap;
mod import;
mod organizations;
mod shell;
mod tenancy;
