//! Conversations, messages, customers, tags, notes and canned replies, and the inbox pages.

pub mod attach;
pub mod attachments;
pub mod bulk;
pub mod canned;
pub mod collision;
pub mod compose;
pub mod conversation;
pub mod customer_page;
pub mod customers;
pub mod drafts;
pub mod events;
pub mod folders;
pub mod forward;
pub mod list;
pub mod notes;
pub mod presence;
pub mod queries;
pub mod reply;
pub mod snooze;
pub mod spam;
pub mod sse;
pub mod tags;
pub mod triage;
pub mod undo;
pub mod unread;
pub mod writing;
