//! The one place that talks to an OpenAI-compatible endpoint (Ollama, vLLM, an EU
//! provider): `GET {base}/models` for the settings page's test and `POST
//! {base}/chat/completions` for a draft. The connection goes through the egress policy (no
//! private address unless `LETHE_ALLOW_PRIVATE_HOSTS=true`), plain `http` only to a private
//! or loopback address (a key never crosses the internet in clear text), no redirects,
//! bounded time and answer size. Nothing here logs a prompt or an answer.

use std::time::Duration;

use serde::Deserialize;

use crate::mail::egress::{Egress, EgressError};

/// The longest URL accepted, in characters.
const MAX_URL_CHARS: usize = 500;
/// How long a draft may take (local models on a CPU are slow).
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the settings page's test may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A checked base URL, e.g. `https://llm.example.eu/v1` or `http://127.0.0.1:11434/v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelUrl(url::Url);

impl ModelUrl {
    /// The URL, or the translation key of what is wrong with it.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim().trim_end_matches('/');
        if value.is_empty() {
            return Err("assist.llm.error.url_required");
        }
        if value.chars().count() > MAX_URL_CHARS || value.chars().any(char::is_control) {
            return Err("assist.llm.error.url_invalid");
        }
        let url = url::Url::parse(value).map_err(|_| "assist.llm.error.url_invalid")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("assist.llm.error.url_invalid");
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err("assist.llm.error.url_invalid");
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The host name as DNS knows it (an IPv6 literal without its brackets).
    pub fn host(&self) -> String {
        self.0
            .host_str()
            .unwrap_or_default()
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned()
    }

    fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.as_str())
    }
}

/// What went wrong, as the agent or admin is told (a translation key each).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the endpoint may not be reached: {0}")]
    Egress(#[from] EgressError),
    #[error("plain http to a public address")]
    PlainHttp,
    #[error("no answer in time")]
    Timeout,
    #[error("cannot connect")]
    Connect,
    #[error("the key was refused")]
    Unauthorized,
    #[error("the model or URL is unknown")]
    NotFound,
    #[error("rate-limited")]
    RateLimited,
    #[error("the endpoint answered {0}")]
    Status(u16),
    #[error("the answer is not an OpenAI-compatible one")]
    BadAnswer,
}

impl ModelError {
    pub fn key(&self) -> &'static str {
        match self {
            ModelError::Egress(EgressError::Private { .. }) => "assist.llm.error.private",
            ModelError::Egress(_) | ModelError::Connect => "assist.llm.error.connect",
            ModelError::PlainHttp => "assist.llm.error.plain_http",
            ModelError::Timeout => "assist.llm.error.timeout",
            ModelError::Unauthorized => "assist.llm.error.unauthorized",
            ModelError::NotFound => "assist.llm.error.not_found",
            ModelError::RateLimited => "assist.llm.error.rate_limited",
            ModelError::Status(_) => "assist.llm.error.status",
            ModelError::BadAnswer => "assist.llm.error.bad_answer",
        }
    }

    /// The flash shown on the conversation page after a failed draft.
    pub fn flash(&self) -> &'static str {
        match self {
            ModelError::Timeout => "flash.assist_model_timeout",
            ModelError::RateLimited => "flash.assist_model_rate_limited",
            _ => "flash.assist_model_failed",
        }
    }

    /// A short name for the audit entry (no text of the answer).
    pub fn outcome(&self) -> &'static str {
        match self {
            ModelError::Egress(_) | ModelError::PlainHttp => "refused",
            ModelError::Timeout => "timeout",
            ModelError::Connect => "unreachable",
            ModelError::Unauthorized => "unauthorized",
            ModelError::NotFound => "not_found",
            ModelError::RateLimited => "rate_limited",
            ModelError::Status(_) => "error_status",
            ModelError::BadAnswer => "bad_answer",
        }
    }
}

/// An endpoint to call: URL, model and key (opened from its seal).
pub struct Endpoint {
    pub url: ModelUrl,
    pub model: String,
    pub key: Option<String>,
}

/// One message of a chat completion.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Models {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

impl Endpoint {
    async fn client(&self, egress: Egress) -> Result<reqwest::Client, ModelError> {
        let host = self.url.host();
        let addresses = egress.resolve(&host, self.url.port()).await?;
        if self.url.0.scheme() == "http"
            && addresses
                .iter()
                .any(|a| crate::mail::egress::is_public(a.ip()))
        {
            return Err(ModelError::PlainHttp);
        }
        Ok(egress.http_client(&host, self.url.port()).await?)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) if !key.is_empty() => request.bearer_auth(key),
            _ => request,
        }
    }

    /// The model's answer to `messages`.
    pub async fn complete(
        &self,
        egress: Egress,
        messages: &[ChatMessage],
    ) -> Result<String, ModelError> {
        let client = self.client(egress).await?;
        let body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0.3,
            "stream": false,
        });
        let request = client
            .post(self.url.endpoint("chat/completions"))
            .timeout(COMPLETION_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let answer = read(self.authorized(request).send().await).await?;
        let completion: Completion =
            serde_json::from_slice(&answer).map_err(|_| ModelError::BadAnswer)?;
        completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|c| !c.trim().is_empty())
            .ok_or(ModelError::BadAnswer)
    }

    /// Whether the endpoint answers with this key and lists the model (`GET /models`).
    pub async fn test(&self, egress: Egress) -> Result<bool, ModelError> {
        let client = self.client(egress).await?;
        let request = client
            .get(self.url.endpoint("models"))
            .timeout(TEST_TIMEOUT);
        let answer = read(self.authorized(request).send().await).await?;
        let models: Models = serde_json::from_slice(&answer).map_err(|_| ModelError::BadAnswer)?;
        Ok(models.data.iter().any(|m| m.id == self.model))
    }
}

/// The body of a successful answer, at most [`MAX_ANSWER_BYTES`].
async fn read(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Vec<u8>, ModelError> {
    let mut response = sent.map_err(|e| {
        if e.is_timeout() {
            ModelError::Timeout
        } else {
            ModelError::Connect
        }
    })?;
    match response.status().as_u16() {
        200..=299 => {}
        401 | 403 => return Err(ModelError::Unauthorized),
        404 => return Err(ModelError::NotFound),
        429 => return Err(ModelError::RateLimited),
        other => return Err(ModelError::Status(other)),
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ModelError::BadAnswer);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(ModelError::Timeout),
            Err(_) => return Err(ModelError::Connect),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            ModelUrl::parse(" http://127.0.0.1:11434/v1/ ")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:11434/v1"
        );
        assert!(ModelUrl::parse("https://llm.example.eu/v1").is_ok());
        for bad in [
            "",
            "ftp://x/v1",
            "https://user:pw@x/v1",
            "https://x/v1?key=1",
            "not a url",
        ] {
            assert!(ModelUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
