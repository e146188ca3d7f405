//! `/keyboard`: the list of keyboard shortcuts, as a page (linked from every page's footer, so it
//! is there without JavaScript) and as the dialog `?` opens on every page (`assets/js/app.js`).
//! Both render `templates/web/shortcuts.html`, so the list is written once.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::page::{Page, render};
use super::{AppError, Authenticated};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "web/keyboard.html")]
struct KeyboardPage {
    page: Page,
}

pub async fn page(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    render(&KeyboardPage {
        page: Page::new(&state, &auth.session, "keyboard").await?,
    })
}

/// One shortcut: the keys (each pressed in turn) and what they do (a catalog key).
pub struct Shortcut {
    pub keys: &'static [&'static str],
    pub does: &'static str,
}

/// Every shortcut, grouped by where it works (a catalog key for the group's heading).
pub const SHORTCUTS: [(&str, &[Shortcut]); 3] = [
    (
        "keyboard.everywhere",
        &[
            Shortcut {
                keys: &["/"],
                does: "keyboard.search",
            },
            Shortcut {
                keys: &["g", "i"],
                does: "keyboard.go_inbox",
            },
            Shortcut {
                keys: &["?"],
                does: "keyboard.help",
            },
        ],
    ),
    (
        "keyboard.in_inbox",
        &[
            Shortcut {
                keys: &["j"],
                does: "keyboard.next",
            },
            Shortcut {
                keys: &["k"],
                does: "keyboard.previous",
            },
            Shortcut {
                keys: &["o"],
                does: "keyboard.open",
            },
            Shortcut {
                keys: &["x"],
                does: "keyboard.select",
            },
            Shortcut {
                keys: &["a"],
                does: "keyboard.assign_me",
            },
            Shortcut {
                keys: &["e"],
                does: "keyboard.close",
            },
            Shortcut {
                keys: &["s"],
                does: "keyboard.snooze",
            },
            Shortcut {
                keys: &["#"],
                does: "keyboard.spam",
            },
        ],
    ),
    (
        "keyboard.in_conversation",
        &[
            Shortcut {
                keys: &["r"],
                does: "keyboard.reply",
            },
            Shortcut {
                keys: &["n"],
                does: "keyboard.note",
            },
        ],
    ),
];
