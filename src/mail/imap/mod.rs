//! IMAP polling: fetching a shop's mailbox into Lethe. [`connect`] opens an authenticated
//! session (plain, STARTTLS or TLS) and tests settings; [`poll`] imports new mail and
//! acknowledges each message on the server only after it is committed; [`scheduler`] polls
//! every due channel in the background. Errors name the stage that failed, never a person.

pub mod connect;
pub mod idle;
pub mod poll;
pub mod scheduler;

pub use connect::{open_for_channel, test_channel, test_connection};
pub use poll::{PollOutcome, poll_once};
pub use scheduler::spawn_poller;

/// The step of talking to a mail server that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The host name did not resolve.
    Dns,
    /// No TCP connection, or the connection broke.
    Connect,
    /// The TLS handshake (or STARTTLS) failed.
    Tls,
    /// The server did not greet like a mail server.
    Greeting,
    /// No OAuth2 access token could be had (not signed in, revoked, the token endpoint).
    Token,
    /// The server refused the user name or password.
    Auth,
    /// The folder does not exist (or cannot be used).
    Folder,
    /// Reading or flagging mail on the server failed.
    Fetch,
    /// Lethe could not store the mail (database); it stays on the server.
    Store,
    /// The poll took too long and was stopped.
    Timeout,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Dns,
        Stage::Connect,
        Stage::Tls,
        Stage::Greeting,
        Stage::Token,
        Stage::Auth,
        Stage::Folder,
        Stage::Fetch,
        Stage::Store,
        Stage::Timeout,
    ];

    /// A short code, stored in front of a channel's last error.
    pub fn code(self) -> &'static str {
        match self {
            Stage::Dns => "dns",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "greeting",
            Stage::Token => "token",
            Stage::Auth => "auth",
            Stage::Folder => "folder",
            Stage::Fetch => "fetch",
            Stage::Store => "store",
            Stage::Timeout => "timeout",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The translation key of the stage's label on the settings page.
    pub fn label_key(self) -> &'static str {
        match self {
            Stage::Dns => "channels.stage.dns",
            Stage::Connect => "channels.stage.connect",
            Stage::Tls => "channels.stage.tls",
            Stage::Greeting => "channels.stage.greeting",
            Stage::Token => "channels.stage.token",
            Stage::Auth => "channels.stage.auth",
            Stage::Folder => "channels.stage.folder",
            Stage::Fetch => "channels.stage.fetch",
            Stage::Store => "channels.stage.store",
            Stage::Timeout => "channels.stage.timeout",
        }
    }
}

/// What went wrong talking to an IMAP server. `detail` holds the host, the folder name or
/// the server's answer: never a user name, a password or anything from a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImapProblem {
    pub stage: Stage,
    pub detail: String,
}

impl ImapProblem {
    pub fn new(stage: Stage, detail: impl Into<String>) -> Self {
        Self {
            stage,
            detail: detail.into(),
        }
    }

    /// The text stored in `channels.last_error`: the stage's code, then the message.
    pub fn stored_text(&self) -> String {
        format!("{}: {self}", self.stage.code())
    }
}

impl Stage {
    /// The text of a failure at this stage of talking to a mail server, for the stages IMAP
    /// and SMTP share (connecting, TLS, signing in, waiting); `None` for the others.
    pub fn connection_problem(self, detail: &str) -> Option<String> {
        match self {
            Stage::Dns => Some(format!("could not resolve host {detail}")),
            Stage::Connect => Some(format!("could not connect: {detail}")),
            Stage::Tls => Some(format!("TLS handshake failed: {detail}")),
            Stage::Auth => Some(format!("the server refused the sign-in ({detail})")),
            Stage::Token => Some(format!("OAuth2: {detail}")),
            Stage::Timeout => Some(format!("the server did not answer in time: {detail}")),
            Stage::Greeting | Stage::Folder | Stage::Fetch | Stage::Store => None,
        }
    }
}

impl std::fmt::Display for ImapProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = &self.detail;
        if let Some(text) = self.stage.connection_problem(detail) {
            return f.write_str(&text);
        }
        match self.stage {
            Stage::Greeting => write!(f, "the server did not greet as an IMAP server: {detail}"),
            Stage::Folder => write!(f, "folder \"{detail}\" does not exist"),
            Stage::Fetch => write!(f, "reading mail from the server failed: {detail}"),
            _ => write!(
                f,
                "storing mail failed; it stays on the server and is fetched again: {detail}"
            ),
        }
    }
}

impl std::error::Error for ImapProblem {}

/// Splits a stored last error into its stage and message, for display.
pub fn parse_stored(text: &str) -> (Option<Stage>, &str) {
    match text.split_once(": ") {
        Some((code, rest)) => match Stage::from_code(code) {
            Some(stage) => (Some(stage), rest),
            None => (None, text),
        },
        None => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips_the_stage() {
        let problem = ImapProblem::new(Stage::Folder, "Archive");
        let stored = problem.stored_text();
        assert_eq!(stored, "folder: folder \"Archive\" does not exist");
        assert_eq!(
            parse_stored(&stored),
            (Some(Stage::Folder), "folder \"Archive\" does not exist")
        );
        assert_eq!(parse_stored("something else"), (None, "something else"));
    }
}
