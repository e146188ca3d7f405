//! sea-orm entities: one file per table, plain data.

pub mod api_key;
pub mod attachment;
pub mod audit_anchor;
pub mod audit_event;
pub mod audit_head;
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
pub mod organization_deletion;
pub mod outbox;
pub mod password_reset;
pub mod privacy_reminder;
pub mod retention_rule;
pub mod retention_run;
pub mod retention_setting;
pub mod session;
pub mod tag;
pub mod user;
