//! sea-orm entities: one file per table, plain data.

pub mod attachment;
pub mod audit_event;
pub mod canned_reply;
pub mod channel;
pub mod conversation;
pub mod conversation_tag;
pub mod customer;
pub mod customer_email;
pub mod invitation;
pub mod membership;
pub mod message;
pub mod organization;
pub mod outbox;
pub mod password_reset;
pub mod retention_rule;
pub mod retention_run;
pub mod retention_setting;
pub mod session;
pub mod tag;
pub mod user;
