//! The attachment store in an S3-compatible bucket (`LETHE_BLOB_URL=s3://bucket/prefix`), so
//! several `lethe serve` nodes share their attachments.
//!
//! Only sealed bytes leave the node: a file is sealed into the local staging directory first
//! (as for the local store) and that sealed file is uploaded, from the file a part at a time
//! ([`PART`]); a read downloads the sealed object into a staging file, a chunk at a time, and
//! opens it there. Objects are named as files are locally: `prefix/ab/abcd…`.
//!
//! Equal files are stored once. S3 has no way to refresh an object's time, so a file about to
//! be referenced again is protected from the orphan sweep this way: committing a file whose
//! object exists uploads it again (a new `last_modified`) when the object is older than
//! [`REFRESH_AFTER`] (half the sweep's grace period), and leaves it when younger; the sweep
//! only deletes objects older than the grace period, and looks at an object's time once more
//! just before deleting it.
//!
//! object_store is async: every call runs on a small runtime of the store's own
//! ([`Bridge`]), and the store's synchronous methods (called on blocking threads) wait for it
//! without entering a runtime themselves.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::{Path as ObjectPath, PathPart};
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BlobError;
use crate::config::Redacted;

/// The size of an upload's parts (S3 wants at least 5 MiB but for the last); a file up to
/// this size is uploaded in one request.
pub const PART: usize = 8 * 1024 * 1024;
/// Parts uploaded at the same time (the memory an upload holds: about this many parts).
const PARALLEL_PARTS: usize = 2;
/// An existing object younger than this is reused as it is; an older one is uploaded again,
/// so its time is fresh for the orphan sweep (see the module documentation).
pub const REFRESH_AFTER: Duration =
    Duration::from_secs(crate::retention::sweep::SAFE_AGE_MINUTES * 60 / 2);

/// `LETHE_BLOB_URL` and the `AWS_*` settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// `AWS_ENDPOINT_URL` (unset: Amazon S3 of the region).
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`; default `us-east-1`).
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Redacted>,
    pub session_token: Option<Redacted>,
    /// `AWS_ALLOW_HTTP=true`: a plain-HTTP endpoint on loopback.
    pub allow_http: bool,
}

/// The environment variables read besides `LETHE_BLOB_URL` (taken from the environment only,
/// as every S3 tool does).
pub const AWS_VARIABLES: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ALLOW_HTTP",
];

impl S3Target {
    /// Parses `LETHE_BLOB_URL` and the `AWS_*` variables `aws` gives; an error names the
    /// setting.
    pub fn parse(
        url: &str,
        aws: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, (&'static str, String)> {
        const URL: &str = "LETHE_BLOB_URL";
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| (URL, format!("not a URL ({e}); expected s3://bucket/prefix")))?;
        if parsed.scheme() != "s3" {
            return Err((URL, "must start with s3:// (s3://bucket/prefix)".into()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err((
                URL,
                "must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() || parsed.port().is_some() {
            return Err((URL, "must be s3://bucket/prefix, nothing more".into()));
        }
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err((URL, "must name a bucket: s3://bucket/prefix".into()));
        }
        let prefix = parsed.path().trim_matches('/').to_owned();
        if prefix.split('/').any(|part| part == "." || part == "..")
            || prefix.contains("//")
            || prefix.bytes().any(|b| b.is_ascii_control())
        {
            return Err((
                URL,
                "the prefix must be a plain path such as lethe/attachments".into(),
            ));
        }
        let allow_http = match aws("AWS_ALLOW_HTTP").as_deref().map(str::trim) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(("AWS_ALLOW_HTTP", "must be true or false".into())),
        };
        let endpoint = match aws("AWS_ENDPOINT_URL") {
            None => None,
            Some(value) => Some(endpoint(value.trim(), allow_http)?),
        };
        let region = aws("AWS_REGION")
            .or_else(|| aws("AWS_DEFAULT_REGION"))
            .map(|r| r.trim().to_owned())
            .unwrap_or_else(|| "us-east-1".into());
        let access_key_id = aws("AWS_ACCESS_KEY_ID");
        let secret_access_key = aws("AWS_SECRET_ACCESS_KEY").map(Redacted::new);
        match (&access_key_id, &secret_access_key) {
            (Some(_), None) => {
                return Err((
                    "AWS_SECRET_ACCESS_KEY",
                    "must be set with AWS_ACCESS_KEY_ID".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "AWS_ACCESS_KEY_ID",
                    "must be set with AWS_SECRET_ACCESS_KEY".into(),
                ));
            }
            _ => {}
        }
        Ok(Self {
            bucket,
            prefix,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            session_token: aws("AWS_SESSION_TOKEN").map(Redacted::new),
            allow_http,
        })
    }

    /// `s3://bucket/prefix`, for messages.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// `AWS_ENDPOINT_URL`: https, or plain http to a loopback address when allowed.
fn endpoint(value: &str, allow_http: bool) -> Result<String, (&'static str, String)> {
    const SETTING: &str = "AWS_ENDPOINT_URL";
    let url = url::Url::parse(value).map_err(|e| (SETTING, format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(name)) => name == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err((
                    SETTING,
                    "must start with https:// (plain http only to a loopback address)".into(),
                ));
            }
            if !allow_http {
                return Err((
                    SETTING,
                    "is plain http: set AWS_ALLOW_HTTP=true to allow it on loopback".into(),
                ));
            }
        }
        _ => return Err((SETTING, "must start with https://".into())),
    }
    if url.host_str().is_none() {
        return Err((SETTING, "must name a host".into()));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// A runtime of the store's own, which every object_store call runs on (so its connections
/// live as long as the store, whichever runtime the caller is on).
struct Bridge(Option<tokio::runtime::Runtime>);

impl Bridge {
    fn handle(&self) -> Result<&tokio::runtime::Handle, BlobError> {
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .ok_or_else(|| io::Error::other("attachment store stopped").into())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Does not wait: the last handle on the store may be dropped on an async thread.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The bucket.
pub struct Remote {
    store: Arc<AmazonS3>,
    /// The prefix's parts.
    prefix: Vec<PathPart<'static>>,
    url: String,
    bridge: Bridge,
}

impl Remote {
    pub fn new(target: &S3Target) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&target.bucket)
            .with_region(&target.region)
            .with_allow_http(target.allow_http)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(target.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            );
        if let Some(endpoint) = &target.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&target.access_key_id, &target.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        if let Some(token) = &target.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder.build().map_err(remote)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lethe-blobs")
            .enable_all()
            .build()?;
        let prefix = target
            .prefix
            .split('/')
            .filter(|part| !part.is_empty())
            .map(|part| PathPart::from(part.to_owned()))
            .collect();
        Ok(Self {
            store: Arc::new(store),
            prefix,
            url: target.url(),
            bridge: Bridge(Some(runtime)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn prefix_path(&self) -> ObjectPath {
        ObjectPath::from_iter(self.prefix.iter().cloned())
    }

    /// `prefix/ab/abcd…` (the id is checked by the caller).
    fn key(&self, id: &str) -> ObjectPath {
        let parts = self.prefix.iter().cloned().chain([
            PathPart::from(id[..2].to_owned()),
            PathPart::from(id.to_owned()),
        ]);
        ObjectPath::from_iter(parts)
    }

    /// Runs `work` on the store's runtime and waits for it, from a blocking thread (or any
    /// thread: it does not enter a runtime).
    fn wait<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, BlobError>> + Send + 'static,
    ) -> Result<T, BlobError> {
        let task = self.bridge.handle()?.spawn(work);
        futures::executor::block_on(task).map_err(|e| io::Error::other(e.to_string()))?
    }

    /// Runs `work` on the store's runtime, from async code.
    async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, BlobError>> + Send + 'static,
    ) -> Result<T, BlobError> {
        let task = self.bridge.handle()?.spawn(work);
        task.await.map_err(|e| io::Error::other(e.to_string()))?
    }

    /// Start-up check: the bucket answers a listing under the prefix with these credentials.
    pub async fn check(&self) -> Result<(), BlobError> {
        let store = self.store.clone();
        let prefix = self.prefix_path();
        self.run(async move {
            store
                .list_with_delimiter(Some(&prefix))
                .await
                .map_err(remote)?;
            Ok(())
        })
        .await
    }

    /// The object's time, or None when there is none.
    pub fn modified(&self, id: &str) -> Result<Option<SystemTime>, BlobError> {
        let store = self.store.clone();
        let key = self.key(id);
        self.wait(async move { modified(&store, &key).await })
    }

    /// Uploads the sealed file at `path` as the object `id`, a part at a time.
    pub fn upload(&self, id: &str, path: &std::path::Path) -> Result<(), BlobError> {
        let store = self.store.clone();
        let key = self.key(id);
        let path = path.to_path_buf();
        self.wait(async move {
            let mut file = tokio::fs::File::open(&path).await?;
            let size = file.metadata().await?.len();
            if size <= PART as u64 {
                let mut whole = Vec::with_capacity(size as usize);
                file.read_to_end(&mut whole).await?;
                store
                    .put(&key, PutPayload::from(whole))
                    .await
                    .map_err(remote)?;
                return Ok(());
            }
            let upload = store.put_multipart(&key).await.map_err(remote)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                let read = match file.read(&mut buffer).await {
                    Ok(read) => read,
                    Err(error) => {
                        let _ = writer.abort().await;
                        return Err(error.into());
                    }
                };
                if read == 0 {
                    break;
                }
                if let Err(error) = writer.wait_for_capacity(PARALLEL_PARTS).await {
                    let _ = writer.abort().await;
                    return Err(remote(error));
                }
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map_err(remote)?;
            Ok(())
        })
    }

    /// Downloads the object `id` into `file`, a chunk at a time; a missing object is an
    /// [`io::ErrorKind::NotFound`] error, as a missing local file is.
    pub fn download(&self, id: &str, file: std::fs::File) -> Result<std::fs::File, BlobError> {
        let store = self.store.clone();
        let key = self.key(id);
        self.wait(async move {
            let got = match store.get(&key).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(io::Error::from(io::ErrorKind::NotFound).into());
                }
                Err(error) => return Err(remote(error)),
            };
            let mut out = tokio::fs::File::from_std(file);
            let mut chunks = got.into_stream();
            while let Some(chunk) = chunks.next().await {
                out.write_all(&chunk.map_err(remote)?).await?;
            }
            out.flush().await?;
            Ok(out.into_std().await)
        })
    }

    /// Deletes the object `id` (none is fine).
    pub fn delete(&self, id: &str) -> Result<(), BlobError> {
        let store = self.store.clone();
        let key = self.key(id);
        self.wait(async move {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(remote(error)),
            }
        })
    }

    /// The ids of the objects under the prefix not modified since `older_than` (objects
    /// that are not named like attachments are left out).
    pub async fn ids_older_than(&self, older_than: SystemTime) -> Result<Vec<String>, BlobError> {
        let store = self.store.clone();
        let prefix = self.prefix_path();
        let depth = self.prefix.len();
        self.run(async move {
            let older_than: DateTime<Utc> = older_than.into();
            let mut out = Vec::new();
            let mut listing = store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(remote)?;
                if meta.last_modified > older_than {
                    continue;
                }
                let parts: Vec<_> = meta.location.parts().collect();
                if parts.len() != depth + 2 {
                    continue;
                }
                let (shard, name) = (parts[depth].as_ref(), parts[depth + 1].as_ref());
                if super::is_id(name) && name.starts_with(shard) && shard.len() == 2 {
                    out.push(name.to_owned());
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes the object `id` if it is still not modified since `older_than` (checked just
    /// before: a commit may have uploaded it again meanwhile). True when it was deleted.
    pub async fn delete_if_older(
        &self,
        id: &str,
        older_than: SystemTime,
    ) -> Result<bool, BlobError> {
        let store = self.store.clone();
        let key = self.key(id);
        self.run(async move {
            match modified(&store, &key).await? {
                Some(time) if time <= older_than => {}
                _ => return Ok(false),
            }
            match store.delete(&key).await {
                Ok(()) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(error) => Err(remote(error)),
            }
        })
        .await
    }
}

async fn modified(store: &AmazonS3, key: &ObjectPath) -> Result<Option<SystemTime>, BlobError> {
    match store.head(key).await {
        Ok(meta) => Ok(Some(meta.last_modified.into())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(remote(error)),
    }
}

fn remote(error: object_store::Error) -> BlobError {
    BlobError::Remote(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, vars: &[(&str, &str)]) -> Result<S3Target, (&'static str, String)> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        S3Target::parse(url, &|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn blob_urls_and_endpoints_are_checked_naming_the_setting() {
        let target = parse("s3://lethe-files/shop/attachments/", &[]).unwrap();
        assert_eq!(target.bucket, "lethe-files");
        assert_eq!(target.prefix, "shop/attachments");
        assert_eq!(target.region, "us-east-1");
        assert_eq!(parse("s3://lethe-files", &[]).unwrap().prefix, "");
        for bad in [
            "lethe-files",
            "https://lethe-files/x",
            "s3:///x",
            "s3://u:p@bucket/x",
            "s3://b/../x",
        ] {
            assert_eq!(parse(bad, &[]).unwrap_err().0, "LETHE_BLOB_URL", "{bad}");
        }
        let http = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")];
        assert_eq!(
            parse("s3://bucket", &http).unwrap_err().0,
            "AWS_ENDPOINT_URL"
        );
        let allowed = parse(
            "s3://bucket",
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
                ("AWS_ALLOW_HTTP", "true"),
            ],
        )
        .unwrap();
        assert_eq!(allowed.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let remote_http = [
            ("AWS_ENDPOINT_URL", "http://s3.example.com"),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        assert_eq!(
            parse("s3://bucket", &remote_http).unwrap_err().0,
            "AWS_ENDPOINT_URL"
        );
        let half = [("AWS_ACCESS_KEY_ID", "AKIA")];
        assert_eq!(
            parse("s3://bucket", &half).unwrap_err().0,
            "AWS_SECRET_ACCESS_KEY"
        );
        let full = parse(
            "s3://bucket",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ],
        )
        .unwrap();
        assert!(
            !format!("{full:?}").contains("very-secret"),
            "the secret is redacted"
        );
    }
}
