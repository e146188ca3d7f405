//! The inbox's handlers, as the route table in `app.rs` names them.

pub use super::attachments::download as attachment;
pub use super::canned::{
    create as canned_create, delete as canned_delete, edit as canned_edit, list as canned_list,
    update as canned_update,
};
pub use super::conversation::show as conversation;
pub use super::customer_page::show as customer;
pub use super::list::inbox;
pub use super::notes::add as add_note;
pub use super::reply::{reply, retry};
pub use super::sse::events;
pub use super::tags::{add as add_tag, remove as remove_tag};
pub use super::triage::{change_assignee, change_status};
