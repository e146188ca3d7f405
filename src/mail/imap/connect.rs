//! Opening an IMAP session: DNS, TCP, TLS (from the first byte or after STARTTLS), the
//! server's greeting, then LOGIN. Each step has a timeout and fails with its own [`Stage`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{Capability, Response, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::{ImapProblem, Stage};
use crate::db::entity::channel;
use crate::mail::channel::{self as channels, ImapSettings, Secret, TlsMode};
use crate::mail::egress::Egress;
use crate::mail::oauth::{self, sasl};
use crate::state::AppState;

/// How long one network step (resolve, connect, handshake, one command) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// An IMAP session over a plain or a TLS connection.
pub type ImapSession = Session<MailStream>;

/// A plain TCP stream or a TLS stream over one.
pub enum MailStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for MailStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailStream::Plain(_) => f.write_str("MailStream::Plain"),
            MailStream::Tls(_) => f.write_str("MailStream::Tls"),
        }
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Runs one step with [`STEP_TIMEOUT`]; a timeout fails with `stage`.
async fn step<T>(
    stage: Stage,
    what: &str,
    future: impl Future<Output = Result<T, ImapProblem>>,
) -> Result<T, ImapProblem> {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| {
            Err(ImapProblem::new(
                stage,
                format!("{what}: no answer within {} s", STEP_TIMEOUT.as_secs()),
            ))
        })
}

/// Resolves `host:port` within the egress policy and connects (trying each address).
pub async fn tcp_connect(host: &str, port: u16, egress: Egress) -> Result<TcpStream, ImapProblem> {
    let addresses = step(Stage::Dns, host, async {
        egress
            .resolve(host, port)
            .await
            .map_err(|e| ImapProblem::new(Stage::Dns, e.to_string()))
    })
    .await?;
    let mut last = None;
    for address in addresses {
        let attempt = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(address)).await;
        match attempt {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(format!("{host}:{port}: {e}")),
            Err(_) => last = Some(format!("{host}:{port}: no answer")),
        }
    }
    Err(ImapProblem::new(
        Stage::Connect,
        last.unwrap_or_else(|| format!("{host}:{port}")),
    ))
}

/// A TLS client configuration trusting the Mozilla root certificates (webpki-roots).
fn tls_connector() -> Result<TlsConnector, ImapProblem> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapProblem::new(Stage::Tls, e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn tls_handshake(tcp: TcpStream, host: &str) -> Result<MailStream, ImapProblem> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| ImapProblem::new(Stage::Tls, format!("{host}: {e}")))?;
    let connector = tls_connector()?;
    step(Stage::Tls, host, async {
        connector
            .connect(name, tcp)
            .await
            .map(|s| MailStream::Tls(Box::new(s)))
            .map_err(|e| ImapProblem::new(Stage::Tls, format!("{host}: {e}")))
    })
    .await
}

/// Reads the server's first line: `* OK` or `* PREAUTH`, anything else is refused.
async fn read_greeting(client: &mut Client<MailStream>) -> Result<(), ImapProblem> {
    step(Stage::Greeting, "greeting", async {
        let response = client
            .read_response()
            .await
            .map_err(|e| ImapProblem::new(Stage::Greeting, e.to_string()))?
            .ok_or_else(|| ImapProblem::new(Stage::Greeting, "the connection was closed"))?;
        match response.parsed() {
            Response::Data {
                status: Status::Ok | Status::PreAuth,
                ..
            } => Ok(()),
            Response::Data {
                status: Status::Bye,
                ..
            } => Err(ImapProblem::new(Stage::Greeting, "the server said BYE")),
            _ => Err(ImapProblem::new(
                Stage::Greeting,
                "the first line was not an IMAP greeting",
            )),
        }
    })
    .await
}

/// Connects, secures and logs in.
pub async fn open_session(
    settings: &ImapSettings,
    egress: Egress,
) -> Result<ImapSession, ImapProblem> {
    let host = settings.host.as_str();
    let tcp = tcp_connect(host, settings.port, egress).await?;
    let mut client = match settings.tls {
        TlsMode::None => {
            let mut client = Client::new(MailStream::Plain(tcp));
            read_greeting(&mut client).await?;
            client
        }
        TlsMode::Tls => {
            let mut client = Client::new(tls_handshake(tcp, host).await?);
            read_greeting(&mut client).await?;
            client
        }
        TlsMode::StartTls => {
            let mut client = Client::new(MailStream::Plain(tcp));
            read_greeting(&mut client).await?;
            step(Stage::Tls, "STARTTLS", async {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| {
                        ImapProblem::new(Stage::Tls, format!("the server refused STARTTLS: {e}"))
                    })
            })
            .await?;
            let MailStream::Plain(tcp) = client.into_inner() else {
                return Err(ImapProblem::new(Stage::Tls, "unexpected stream"));
            };
            // No second greeting after STARTTLS (RFC 3501, 6.2.1).
            Client::new(tls_handshake(tcp, host).await?)
        }
    };
    match &settings.secret {
        Secret::Password(password) => {
            step(Stage::Auth, "LOGIN", async {
                client
                    .login(&settings.user, password)
                    .await
                    .map_err(|(error, _)| login_problem(error))
            })
            .await
        }
        Secret::Bearer(token) => {
            step(Stage::Auth, "AUTHENTICATE", async {
                let offered = capabilities(&mut client).await?;
                // XOAUTH2 where offered (Microsoft, Google, Dovecot), else the standard one.
                let (mechanism, message) = if offered.iter().any(|c| c == "AUTH=XOAUTH2")
                    || !offered.iter().any(|c| c == "AUTH=OAUTHBEARER")
                {
                    ("XOAUTH2", sasl::xoauth2(&settings.user, token))
                } else {
                    (
                        "OAUTHBEARER",
                        sasl::oauthbearer(&settings.user, host, settings.port, token),
                    )
                };
                client
                    .authenticate(mechanism, sasl::OneShot::new(message))
                    .await
                    .map_err(|(error, _)| login_problem(error))
            })
            .await
        }
    }
}

/// The server's capabilities before sign-in (`CAPABILITY`), upper-cased.
async fn capabilities(client: &mut Client<MailStream>) -> Result<Vec<String>, ImapProblem> {
    let (answers, received) = async_channel::bounded(16);
    client
        .run_command_and_check_ok("CAPABILITY", Some(answers))
        .await
        .map_err(|e| ImapProblem::new(Stage::Greeting, format!("CAPABILITY: {e}")))?;
    let mut offered = Vec::new();
    while let Ok(answer) = received.try_recv() {
        if let UnsolicitedResponse::Other(data) = answer
            && let Response::Capabilities(list) = data.parsed()
        {
            offered.extend(list.iter().map(|c| match c {
                Capability::Imap4rev1 => "IMAP4REV1".to_owned(),
                Capability::Auth(mechanism) => format!("AUTH={}", mechanism.to_uppercase()),
                Capability::Atom(atom) => atom.to_uppercase(),
            }));
        }
    }
    Ok(offered)
}

/// Opens a session with a channel's stored settings: the password, or an OAuth2 access
/// token, refreshed once when the server refuses it before its expiry. None when the channel
/// has no IMAP settings.
pub async fn open_for_channel(
    state: &AppState,
    channel: &channel::Model,
) -> Result<Option<(ImapSession, ImapSettings)>, ImapProblem> {
    let settings = channels::imap_settings(channel, &state.sealer)
        .map_err(|_| ImapProblem::new(Stage::Auth, "the stored password cannot be opened"))?;
    let Some(mut settings) = settings else {
        return Ok(None);
    };
    let egress = state.config.egress();
    let session = oauth::with_token(
        state,
        channel.id,
        &mut settings,
        |e| ImapProblem::new(Stage::Token, e.to_string()),
        |problem: &ImapProblem| problem.stage == Stage::Auth,
        move |settings: ImapSettings| async move { open_session(&settings, egress).await },
    )
    .await?;
    Ok(Some((session, settings)))
}

fn login_problem(error: async_imap::error::Error) -> ImapProblem {
    use async_imap::error::Error;
    match error {
        Error::No(text) | Error::Bad(text) => ImapProblem::new(Stage::Auth, server_text(&text)),
        Error::Io(e) => ImapProblem::new(Stage::Connect, format!("during login: {e}")),
        Error::ConnectionLost => ImapProblem::new(Stage::Connect, "connection lost during login"),
        Error::Validate(e) => ImapProblem::new(Stage::Auth, e.to_string()),
        other => ImapProblem::new(Stage::Auth, other.to_string()),
    }
}

/// A server's answer, cut short; servers answer with fixed texts, not with user data.
pub fn server_text(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.trim().is_empty() {
        "no reason given".into()
    } else {
        text.trim().to_owned()
    }
}

/// Checks settings the way a poll uses them: connect, log in, open the folder and (when
/// set) the folder mail is moved to; then logs out. Nothing on the server changes.
pub async fn test_connection(settings: &ImapSettings, egress: Egress) -> Result<(), ImapProblem> {
    let mut session = open_session(settings, egress).await?;
    let result = check_folders(&mut session, settings).await;
    let _ = tokio::time::timeout(STEP_TIMEOUT, session.logout()).await;
    result
}

/// "Test IMAP" for a stored channel: sign in as a poll does (token included), open the
/// folders, log out. `Ok(false)`: the channel has no IMAP settings.
pub async fn test_channel(state: &AppState, channel: &channel::Model) -> Result<bool, ImapProblem> {
    let Some((mut session, settings)) = open_for_channel(state, channel).await? else {
        return Ok(false);
    };
    let result = check_folders(&mut session, &settings).await;
    let _ = tokio::time::timeout(STEP_TIMEOUT, session.logout()).await;
    result.map(|()| true)
}

async fn check_folders(
    session: &mut ImapSession,
    settings: &ImapSettings,
) -> Result<(), ImapProblem> {
    examine(session, &settings.folder).await?;
    if let Some(target) = &settings.move_to {
        examine(session, target).await?;
    }
    Ok(())
}

async fn examine(session: &mut ImapSession, folder: &str) -> Result<(), ImapProblem> {
    step(Stage::Folder, folder, async {
        session
            .examine(folder)
            .await
            .map(|_| ())
            .map_err(|e| folder_problem(folder, e))
    })
    .await
}

/// SELECT/EXAMINE/COPY answered NO or BAD: the folder is missing or unusable.
pub fn folder_problem(folder: &str, error: async_imap::error::Error) -> ImapProblem {
    use async_imap::error::Error;
    match error {
        Error::No(_) | Error::Bad(_) | Error::Validate(_) => {
            ImapProblem::new(Stage::Folder, folder)
        }
        other => ImapProblem::new(Stage::Fetch, other.to_string()),
    }
}
