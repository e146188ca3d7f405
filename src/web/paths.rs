//! Every URL of Lethe, defined once.
//!
//! Each route is a [`Route`] constant holding its actix pattern, e.g. `"/conversations/{id}"`.
//! The route table (`app::routes`) registers `CONVERSATION.pattern()`; handlers redirect to
//! and templates link to `CONVERSATION.at(id)`, which fills the `{…}` segments of that same
//! pattern. A route without segments is its own URL: `INBOX.path()` in Rust, `{{
//! crate::web::paths::INBOX }}` in a template. Query strings and fragments (`?next=…`,
//! `#message-…`) are composed around the path where they are used.
//!
//! The number of `{…}` segments is part of the type (`Route<1>` takes one argument); a
//! pattern whose segment count disagrees with its type fails to compile.

use std::fmt::{self, Display, Write as _};

/// A route pattern with `N` `{…}` segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<const N: usize>(&'static str);

impl<const N: usize> Route<N> {
    /// A route; compilation fails unless `pattern` has exactly `N` `{…}` segments.
    const fn new(pattern: &'static str) -> Self {
        let bytes = pattern.as_bytes();
        let mut segments = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'{' {
                segments += 1;
            }
            i += 1;
        }
        assert!(segments == N, "segment count disagrees with Route<N>");
        Self(pattern)
    }

    /// The pattern for the route table, e.g. `/conversations/{id}`.
    pub const fn pattern(self) -> &'static str {
        self.0
    }

    /// The pattern with each `{…}` segment replaced, in order, by the next of `args`.
    fn fill(self, args: [&dyn Display; N]) -> String {
        let mut out = String::with_capacity(self.0.len() + 8 * N);
        let mut rest = self.0;
        for arg in args {
            let Some((before, after)) = rest.split_once('{') else {
                break;
            };
            out.push_str(before);
            // Writing to a String cannot fail.
            let _ = write!(out, "{arg}");
            rest = after.split_once('}').map_or("", |(_, after)| after);
        }
        out.push_str(rest);
        out
    }
}

impl Route<0> {
    /// The URL of a route without segments (the same string as its pattern).
    pub const fn path(self) -> &'static str {
        self.0
    }
}

impl Display for Route<0> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Route<1> {
    /// The URL with the segment filled, e.g. `CONVERSATION.at(7)` → `/conversations/7`.
    pub fn at(self, a: impl Display) -> String {
        self.fill([&a])
    }
}

impl Route<2> {
    /// The URL with both segments filled, in the order of the pattern.
    pub fn at(self, a: impl Display, b: impl Display) -> String {
        self.fill([&a, &b])
    }
}

/// Paths under this prefix are the JSON API (errors answer JSON).
pub const API_PREFIX: &str = "/api/";
/// Paths under this prefix take posts from other sites (inbound mail webhooks).
pub const INBOUND_PREFIX: &str = "/inbound/";

// site
pub const HEALTHZ: Route<0> = Route::new("/healthz");
pub const READYZ: Route<0> = Route::new("/readyz");
pub const ASSET: Route<1> = Route::new("/assets/{path:.*}");
pub const HOME: Route<0> = Route::new("/");

// accounts (src/auth/)
pub const LOGIN: Route<0> = Route::new("/login");
pub const LOGOUT: Route<0> = Route::new("/logout");
pub const LOGIN_TWO_FACTOR: Route<0> = Route::new("/login/2fa");
pub const LOGIN_TWO_FACTOR_SETUP: Route<0> = Route::new("/login/2fa/setup");
pub const LOGIN_TWO_FACTOR_SETUP_PASSKEY: Route<0> = Route::new("/login/2fa/setup/passkey");
pub const LOGIN_TWO_FACTOR_PASSKEY: Route<0> = Route::new("/login/2fa/passkey");
pub const LOGIN_PASSKEY: Route<0> = Route::new("/login/passkey");
pub const SETUP: Route<1> = Route::new("/setup/{token}");
pub const ACCOUNT: Route<0> = Route::new("/account");
pub const KEYBOARD: Route<0> = Route::new("/keyboard");
pub const ACCOUNT_PROFILE: Route<0> = Route::new("/account/profile");
pub const ACCOUNT_PASSWORD: Route<0> = Route::new("/account/password");
pub const ACCOUNT_SIGNATURE: Route<0> = Route::new("/account/signature");
pub const ACCOUNT_NOTIFICATIONS: Route<0> = Route::new("/account/notifications");
/// A user deletes their own account (src/orgs/leaving.rs).
pub const ACCOUNT_DELETE: Route<0> = Route::new("/account/delete");
pub const ACCOUNT_SECURITY: Route<0> = Route::new("/account/security");
pub const ACCOUNT_TWO_FACTOR: Route<0> = Route::new("/account/security/two-factor");
pub const ACCOUNT_TWO_FACTOR_REMOVE: Route<0> = Route::new("/account/security/two-factor/remove");
pub const ACCOUNT_PASSKEYS: Route<0> = Route::new("/account/security/passkeys");
pub const ACCOUNT_PASSKEY_REMOVE: Route<1> = Route::new("/account/security/passkeys/{id}/remove");
pub const ACCOUNT_SESSION_END: Route<1> = Route::new("/account/security/sessions/{handle}/end");
pub const PASSWORD_FORGOT: Route<0> = Route::new("/password/forgot");
pub const PASSWORD_RESET: Route<1> = Route::new("/password/reset/{token}");

// organizations and team (src/orgs/)
pub const ORG_NEW: Route<0> = Route::new("/orgs/new");
pub const ORG_SWITCH: Route<0> = Route::new("/orgs/switch");
pub const TEAM: Route<0> = Route::new("/settings/team");
pub const TEAM_INVITATIONS: Route<0> = Route::new("/settings/team/invitations");
pub const TEAM_INVITATION_REVOKE: Route<1> = Route::new("/settings/team/invitations/{id}/revoke");
pub const TEAM_MEMBER_ROLE: Route<1> = Route::new("/settings/team/members/{user_id}/role");
pub const TEAM_MEMBER_REMOVE: Route<1> = Route::new("/settings/team/members/{user_id}/remove");
pub const INVITATION: Route<1> = Route::new("/invitations/{token}");

// search (src/search/) and the audit log (src/audit/)
pub const SEARCH: Route<0> = Route::new("/search");
pub const AUDIT: Route<0> = Route::new("/audit");
/// Who accessed whose personal data (src/audit/access.rs).
pub const AUDIT_ACCESS: Route<0> = Route::new("/audit/access");

// reports (src/reports/)
/// The team's figures for a period (admins).
pub const REPORTS: Route<0> = Route::new("/reports");
/// A table of the report as CSV (`?table=volume|agents|tags|channels|hours&from&to&group`).
pub const REPORTS_CSV: Route<0> = Route::new("/reports.csv");

// privacy (src/privacy/)
pub const CUSTOMER_ERASE: Route<1> = Route::new("/customers/{id}/erase");
pub const CUSTOMER_EXPORT: Route<1> = Route::new("/customers/{id}/export");
pub const PRIVACY_REQUESTS: Route<0> = Route::new("/privacy/requests");
pub const PRIVACY_REQUEST_STATUS: Route<1> = Route::new("/privacy/requests/{id}/status");
pub const PRIVACY_REQUEST_VERIFICATION: Route<1> =
    Route::new("/privacy/requests/{id}/verification");
/// The requester's one-time verification link (no sign-in).
pub const PRIVACY_VERIFY: Route<1> = Route::new("/privacy/verify/{token}");
pub const PRIVACY_RECEIPT: Route<1> = Route::new("/privacy/receipts/{id}");
/// Purposes of processing and their legal bases (admins).
pub const PRIVACY_SETTINGS: Route<0> = Route::new("/settings/privacy");
pub const PRIVACY_PURPOSES: Route<0> = Route::new("/settings/privacy/purposes");
pub const PRIVACY_PURPOSES_DEFAULTS: Route<0> = Route::new("/settings/privacy/purposes/defaults");
pub const CUSTOMER_RECTIFY: Route<1> = Route::new("/customers/{id}/rectify");
pub const CUSTOMER_RESTRICTION: Route<1> = Route::new("/customers/{id}/restriction");
pub const CUSTOMER_OBJECTIONS: Route<1> = Route::new("/customers/{id}/objections");
pub const CUSTOMER_OBJECTIONS_LIFT: Route<1> = Route::new("/customers/{id}/objections/lift");
pub const CUSTOMER_MERGE: Route<1> = Route::new("/customers/{id}/merge");

// inbox (src/inbox/)
pub const INBOX: Route<0> = Route::new("/inbox");
pub const INBOX_BULK: Route<0> = Route::new("/inbox/bulk");
pub const INBOX_COUNTS: Route<0> = Route::new("/inbox/counts");
/// Saved views (src/inbox/views.rs).
pub const SAVED_VIEWS: Route<0> = Route::new("/inbox/views");
pub const SAVED_VIEW: Route<1> = Route::new("/inbox/views/{id}");
pub const SAVED_VIEW_DELETE: Route<1> = Route::new("/inbox/views/{id}/delete");
pub const EVENTS: Route<0> = Route::new("/events");
pub const NOTIFICATIONS: Route<0> = Route::new("/notifications");
pub const NOTIFICATIONS_COUNT: Route<0> = Route::new("/notifications/count");
/// Marks all read.
pub const NOTIFICATIONS_READ: Route<0> = Route::new("/notifications/read");
pub const NOTIFICATION_READ: Route<1> = Route::new("/notifications/{id}/read");
pub const MENTION_MEMBERS: Route<0> = Route::new("/mentions/members");
pub const CONVERSATION: Route<1> = Route::new("/conversations/{id}");
/// Registered before `CONVERSATION`, whose `{id}` would take "new".
pub const CONVERSATION_NEW: Route<0> = Route::new("/conversations/new");
pub const CONVERSATION_REPLY: Route<1> = Route::new("/conversations/{id}/reply");
pub const CONVERSATION_NOTES: Route<1> = Route::new("/conversations/{id}/notes");
/// The agent's draft reply (src/inbox/drafts.rs).
pub const CONVERSATION_DRAFT: Route<1> = Route::new("/conversations/{id}/draft");
/// Who else is on the conversation: a server-sent-event stream (src/inbox/presence.rs).
pub const CONVERSATION_PRESENCE: Route<1> = Route::new("/conversations/{id}/presence");
/// "I am typing a reply" (src/inbox/presence.rs).
pub const CONVERSATION_TYPING: Route<1> = Route::new("/conversations/{id}/typing");
/// Undo a reply still waiting in the outbox (src/inbox/undo.rs).
pub const CONVERSATION_MESSAGE_UNDO: Route<2> =
    Route::new("/conversations/{id}/messages/{message_id}/undo");
/// Forwards the whole conversation (one message: `CONVERSATION_MESSAGE_FORWARD`).
pub const CONVERSATION_FORWARD: Route<1> = Route::new("/conversations/{id}/forward");
pub const CONVERSATION_STATUS: Route<1> = Route::new("/conversations/{id}/status");
pub const CONVERSATION_ASSIGNEE: Route<1> = Route::new("/conversations/{id}/assignee");
pub const CONVERSATION_SNOOZE: Route<1> = Route::new("/conversations/{id}/snooze");
pub const CONVERSATION_SPAM: Route<1> = Route::new("/conversations/{id}/spam");
pub const CONVERSATION_UNREAD: Route<1> = Route::new("/conversations/{id}/unread");
pub const CONVERSATION_TAGS: Route<1> = Route::new("/conversations/{id}/tags");
pub const CONVERSATION_TAG_REMOVE: Route<2> =
    Route::new("/conversations/{id}/tags/{tag_id}/remove");
pub const CONVERSATION_MESSAGE_FORWARD: Route<2> =
    Route::new("/conversations/{id}/messages/{message_id}/forward");
pub const CONVERSATION_MESSAGE_RETRY: Route<2> =
    Route::new("/conversations/{id}/messages/{message_id}/retry");
/// Merge the customer's ticked conversations into this one (src/inbox/merge.rs).
pub const CONVERSATION_MERGE: Route<1> = Route::new("/conversations/{id}/merge");
/// Split a customer message off into a new conversation (src/inbox/split.rs).
pub const CONVERSATION_MESSAGE_SPLIT: Route<2> =
    Route::new("/conversations/{id}/messages/{message_id}/split");
pub const CUSTOMER: Route<1> = Route::new("/customers/{id}");
pub const ATTACHMENT: Route<1> = Route::new("/attachments/{id}");
// knowledge base and help centre (src/assist/knowledge/)
pub const KNOWLEDGE: Route<0> = Route::new("/knowledge");
pub const KNOWLEDGE_NEW: Route<0> = Route::new("/knowledge/new");
pub const KNOWLEDGE_CATEGORIES: Route<0> = Route::new("/knowledge/categories");
pub const KNOWLEDGE_CATEGORY_DELETE: Route<1> = Route::new("/knowledge/categories/{id}/delete");
pub const KNOWLEDGE_SETTINGS: Route<0> = Route::new("/knowledge/settings");
pub const KNOWLEDGE_ARTICLE: Route<1> = Route::new("/knowledge/{id}");
pub const KNOWLEDGE_ARTICLE_EDIT: Route<1> = Route::new("/knowledge/{id}/edit");
pub const KNOWLEDGE_ARTICLE_DELETE: Route<1> = Route::new("/knowledge/{id}/delete");
pub const CONVERSATION_KNOWLEDGE: Route<1> = Route::new("/conversations/{id}/knowledge");
/// The public help centre: no session, no cookie (`web::session::load_session` skips it).
pub const HELP_PREFIX: &str = "/help/";
pub const HELP_HOME: Route<1> = Route::new("/help/{slug}");
pub const HELP_SEARCH: Route<1> = Route::new("/help/{slug}/search");
pub const HELP_ARTICLE: Route<2> = Route::new("/help/{slug}/articles/{article}");
pub const CANNED_REPLIES: Route<0> = Route::new("/settings/canned-replies");
pub const CANNED_REPLY: Route<1> = Route::new("/settings/canned-replies/{id}");
pub const CANNED_REPLY_DELETE: Route<1> = Route::new("/settings/canned-replies/{id}/delete");
pub const BLOCKED_SENDERS: Route<0> = Route::new("/settings/blocked-senders");
pub const BLOCKED_SENDER_DELETE: Route<1> = Route::new("/settings/blocked-senders/{id}/delete");

// email channels (src/mail/)
pub const INBOUND_EMAIL: Route<1> = Route::new("/inbound/email/{token}");
// chat (src/chat/): the widget's endpoints, answered without a session, to allowed origins
pub const CHAT_PREFIX: &str = "/chat/";
pub const CHAT_WIDGET: Route<1> = Route::new("/chat/{token}.js");
pub const CHAT_MESSAGES: Route<1> = Route::new("/chat/{token}/messages");
pub const CHAT_EVENTS: Route<1> = Route::new("/chat/{token}/events");
pub const CHAT_DELETE: Route<1> = Route::new("/chat/{token}/delete");
pub const CHAT_FILES: Route<1> = Route::new("/chat/{token}/files");
pub const CHAT_FILE: Route<2> = Route::new("/chat/{token}/files/{id}");
/// The help-centre articles in the widget (src/chat/help.rs): JSON for the script, and the
/// same as pages that need no JavaScript.
pub const CHAT_ARTICLES: Route<1> = Route::new("/chat/{token}/articles");
pub const CHAT_ARTICLE: Route<2> = Route::new("/chat/{token}/articles/{article}");
pub const CHAT_HELP: Route<1> = Route::new("/chat/{token}/help");
pub const CHAT_HELP_ARTICLE: Route<2> = Route::new("/chat/{token}/help/{article}");
/// Any endpoint under a channel's token, for the CORS preflight (`OPTIONS`).
pub const CHAT_PREFLIGHT: Route<2> = Route::new("/chat/{token}/{endpoint}");
pub const CHAT_CHANNEL_NEW: Route<0> = Route::new("/settings/channels/chat/new");
pub const CHAT_CHANNELS: Route<0> = Route::new("/settings/channels/chat");
pub const CHAT_CHANNEL: Route<1> = Route::new("/settings/channels/chat/{id}");
pub const CHAT_CHANNEL_DELETE: Route<1> = Route::new("/settings/channels/chat/{id}/delete");
// end chat
pub const CHANNELS: Route<0> = Route::new("/settings/channels");
pub const CHANNEL_NEW: Route<0> = Route::new("/settings/channels/new");
pub const CHANNEL: Route<1> = Route::new("/settings/channels/{id}");
pub const CHANNEL_DELETE: Route<1> = Route::new("/settings/channels/{id}/delete");
pub const CHANNEL_SIGNATURE: Route<1> = Route::new("/settings/channels/{id}/signature");
pub const CHANNEL_TEST_IMAP: Route<1> = Route::new("/settings/channels/{id}/test-imap");
pub const CHANNEL_TEST_SMTP: Route<1> = Route::new("/settings/channels/{id}/test-smtp");
/// Starts the OAuth2 sign-in of a channel (a link: the provider's page is another origin).
pub const CHANNEL_OAUTH_START: Route<1> = Route::new("/settings/channels/{id}/oauth/start");
/// Where the provider sends the admin back; the redirect URL registered with the app.
pub const CHANNEL_OAUTH_CALLBACK: Route<0> = Route::new("/settings/channels/oauth/callback");

// retention (src/retention/)
pub const RETENTION: Route<0> = Route::new("/settings/retention");
pub const RETENTION_RULES: Route<0> = Route::new("/settings/retention/rules");
pub const RETENTION_RULES_REMOVE: Route<0> = Route::new("/settings/retention/rules/remove");
pub const RETENTION_PREVIEW: Route<0> = Route::new("/settings/retention/preview");
pub const RETENTION_RUN: Route<0> = Route::new("/settings/retention/run");
pub const RETENTION_SCHEDULE: Route<0> = Route::new("/settings/retention/schedule");
pub const CONVERSATION_LEGAL_HOLD: Route<1> = Route::new("/conversations/{id}/legal-hold");
pub const CUSTOMER_LEGAL_HOLD: Route<1> = Route::new("/customers/{id}/legal-hold");

// the organization's settings page (src/orgs/organization_page.rs) and API keys (src/api/keys.rs)
pub const ORGANIZATION: Route<0> = Route::new("/settings/organization");
pub const ORGANIZATION_TWO_FACTOR: Route<0> = Route::new("/settings/organization/two-factor");
pub const ORGANIZATION_EXPORT: Route<0> = Route::new("/settings/organization/export");
pub const ORGANIZATION_DELETION: Route<0> = Route::new("/settings/organization/deletion");
/// The deletion confirmation file, while a deletion is scheduled (src/orgs/organization_page.rs).
pub const ORGANIZATION_DELETION_RECEIPT: Route<0> =
    Route::new("/settings/organization/deletion/receipt");
pub const ORGANIZATION_DELETION_CANCEL: Route<0> =
    Route::new("/settings/organization/deletion/cancel");
/// SLA calendar and targets (src/sla/page.rs).
pub const SLA_SETTINGS: Route<0> = Route::new("/settings/sla");
pub const API_KEYS: Route<0> = Route::new("/settings/api-keys");
pub const API_KEY_REVOKE: Route<1> = Route::new("/settings/api-keys/{id}/revoke");

// webhooks (src/webhooks/)
pub const WEBHOOKS: Route<0> = Route::new("/settings/webhooks");
/// The organization's language model (src/assist/llm/settings.rs).
pub const ASSIST_SETTINGS: Route<0> = Route::new("/settings/assist");
pub const ASSIST_SETTINGS_TEST: Route<0> = Route::new("/settings/assist/test");
/// A draft by the language model (src/assist/llm/draft.rs).
pub const CONVERSATION_MODEL_DRAFT: Route<1> = Route::new("/conversations/{id}/assist/draft");
/// Suggestions (src/assist/suggest/): the organization's mode, and *Insert*.
pub const ASSIST_SUGGESTIONS_MODE: Route<0> = Route::new("/settings/assist/suggestions");
pub const CONVERSATION_SUGGESTION_INSERT: Route<2> =
    Route::new("/conversations/{id}/assist/suggestions/{suggestion}/insert");
/// Backups of a single-organization install (src/backup/routes.rs).
pub const BACKUPS: Route<0> = Route::new("/settings/backups");
pub const BACKUP_SCHEDULE: Route<0> = Route::new("/settings/backups/schedule");
pub const BACKUP_NOW: Route<0> = Route::new("/settings/backups/now");
pub const WEBHOOK: Route<1> = Route::new("/settings/webhooks/{id}");
pub const WEBHOOK_ROTATE: Route<1> = Route::new("/settings/webhooks/{id}/rotate");
pub const WEBHOOK_DELETE: Route<1> = Route::new("/settings/webhooks/{id}/delete");
pub const WEBHOOK_RESEND: Route<2> =
    Route::new("/settings/webhooks/{id}/deliveries/{delivery_id}/resend");
pub const WEBHOOK_INBOUND: Route<0> = Route::new("/settings/webhooks/inbound");
pub const WEBHOOK_INBOUND_DELETE: Route<1> = Route::new("/settings/webhooks/inbound/{id}/delete");
pub const INBOUND_WEBHOOK: Route<1> = Route::new("/inbound/webhooks/{token}");

// order connectors and the orders panel (src/assist/orders/)
pub const INTEGRATIONS: Route<0> = Route::new("/settings/integrations");
pub const INTEGRATION: Route<1> = Route::new("/settings/integrations/{id}");
pub const INTEGRATION_DELETE: Route<1> = Route::new("/settings/integrations/{id}/delete");
pub const INTEGRATION_TEST: Route<1> = Route::new("/settings/integrations/{id}/test");
pub const CONVERSATION_ORDER_INSERT: Route<1> = Route::new("/conversations/{id}/orders/insert");

// the JSON API (src/api/v1/)
pub const API_CUSTOMERS: Route<0> = Route::new("/api/v1/customers");
pub const API_CUSTOMER_EXPORT: Route<1> = Route::new("/api/v1/customers/{id}/export");
pub const API_CUSTOMER_ERASE: Route<1> = Route::new("/api/v1/customers/{id}/erase");
pub const API_PRIVACY_REQUESTS: Route<0> = Route::new("/api/v1/privacy/requests");
pub const API_CUSTOMER: Route<1> = Route::new("/api/v1/customers/{id}");
pub const API_CONVERSATIONS: Route<0> = Route::new("/api/v1/conversations");
pub const API_CONVERSATION: Route<1> = Route::new("/api/v1/conversations/{id}");
pub const API_CONVERSATION_STATUS: Route<1> = Route::new("/api/v1/conversations/{id}/status");
pub const API_CONVERSATION_ASSIGNEE: Route<1> = Route::new("/api/v1/conversations/{id}/assignee");
pub const API_CONVERSATION_TAGS: Route<1> = Route::new("/api/v1/conversations/{id}/tags");
pub const API_CONVERSATION_TAG: Route<2> = Route::new("/api/v1/conversations/{id}/tags/{tag_id}");
pub const API_MESSAGES: Route<1> = Route::new("/api/v1/conversations/{id}/messages");
pub const API_REPLIES: Route<1> = Route::new("/api/v1/conversations/{id}/replies");
pub const API_NOTES: Route<1> = Route::new("/api/v1/conversations/{id}/notes");
pub const API_TAGS: Route<0> = Route::new("/api/v1/tags");
pub const API_USERS: Route<0> = Route::new("/api/v1/users");
pub const API_CHANNELS: Route<0> = Route::new("/api/v1/channels");
pub const API_RETENTION_RUNS: Route<0> = Route::new("/api/v1/retention/runs");
/// The OpenAPI document (public) and the page that shows it.
pub const API_OPENAPI: &str = "/api/v1/openapi.json";
pub const API_DOCS: &str = "/api/docs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_fills_segments_in_order() {
        assert_eq!(CONVERSATION.at(7), "/conversations/7");
        assert_eq!(
            CONVERSATION_TAG_REMOVE.at(7, 9),
            "/conversations/7/tags/9/remove"
        );
        assert_eq!(SETUP.at("abc"), "/setup/abc");
        assert_eq!(ASSET.at("css/app.css"), "/assets/css/app.css");
        assert_eq!(INBOX.to_string(), INBOX.path());
    }

    #[test]
    fn prefixes_cover_their_routes() {
        for pattern in [
            API_CUSTOMERS.pattern(),
            API_CUSTOMER_EXPORT.pattern(),
            API_CUSTOMER_ERASE.pattern(),
            API_PRIVACY_REQUESTS.pattern(),
            API_CUSTOMER.pattern(),
            API_CONVERSATIONS.pattern(),
            API_CONVERSATION.pattern(),
            API_CONVERSATION_STATUS.pattern(),
            API_CONVERSATION_ASSIGNEE.pattern(),
            API_CONVERSATION_TAGS.pattern(),
            API_CONVERSATION_TAG.pattern(),
            API_MESSAGES.pattern(),
            API_REPLIES.pattern(),
            API_NOTES.pattern(),
            API_TAGS.pattern(),
            API_USERS.pattern(),
            API_CHANNELS.pattern(),
            API_RETENTION_RUNS.pattern(),
            API_OPENAPI,
            API_DOCS,
        ] {
            assert!(pattern.starts_with(API_PREFIX), "{pattern}");
        }
        assert!(INBOUND_EMAIL.pattern().starts_with(INBOUND_PREFIX));
    }
}
