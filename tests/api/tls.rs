//! HTTPS served by Lethe itself: certificate files, and a certificate obtained by ACME from
//! Pebble (Let's Encrypt's test CA, run on loopback with a DNS server that answers 127.0.0.1
//! for every name), checked by the TLS-ALPN-01 challenge on Lethe's own listener.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

use crate::helpers::{AppOptions, spawn_app_with};
use crate::smtp::free_port;

/// A test CA and a server certificate it signed for `localhost` and 127.0.0.1.
struct TestCa {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    ca_file: PathBuf,
}

fn test_ca(dir: &Path) -> TestCa {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let made = TestCa {
        ca_pem: ca.pem(),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca_file: dir.join("ca.pem"),
    };
    std::fs::write(&made.cert, cert.pem()).expect("write cert");
    std::fs::write(&made.key, key.serialize_pem()).expect("write key");
    std::fs::write(&made.ca_file, &made.ca_pem).expect("write ca");
    made
}

fn https_client(root_pem: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("root"))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn certificate_files_serve_https_with_hsts_and_a_host_prefixed_secure_cookie() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = test_ca(dir.path());
    let app = spawn_app_with(AppOptions {
        extra_env: vec![
            ("LETHE_TLS_CERT".into(), ca.cert.display().to_string()),
            ("LETHE_TLS_KEY".into(), ca.key.display().to_string()),
        ],
        ..Default::default()
    })
    .await;
    assert!(
        app.state.config.base_url.is_https(),
        "the default base URL is https"
    );
    let plain = app.address.clone();
    let client = https_client(&ca.ca_pem)
        .cookie_store(true)
        .build()
        .expect("client");
    let app = app.over_https(client);
    let email = "agent@shop.test";
    app.create_user(email, "TLS Shop", "owner").await;

    let login = app.get("/login").await;
    assert_eq!(login.status(), 200);
    let hsts = login
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(hsts.contains("max-age="), "HSTS over HTTPS: {hsts:?}");

    let signed_in = app.login(email).await;
    assert_eq!(signed_in.status(), 303, "login succeeds over HTTPS");
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-lethe_session="))
        .expect("the session cookie carries the __Host- prefix over HTTPS")
        .to_owned();
    for attribute in ["Secure", "HttpOnly", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "a __Host- cookie has no Domain: {cookie}"
    );
    assert_eq!(app.get("/inbox").await.status(), 200, "the session holds");

    // Plain HTTP on the same port gets no page.
    let over_http = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        over_http.map(|r| !r.status().is_success()).unwrap_or(true),
        "the listener speaks TLS only"
    );

    // `lethe healthcheck` (Docker's HEALTHCHECK) speaks TLS to its own listener.
    let port = app.address.rsplit(':').next().expect("port").to_owned();
    let mut healthcheck = app.lethe();
    // A loaded test machine may take longer than the container's 3 s.
    healthcheck
        .args(["healthcheck", "--timeout", "30"])
        .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
        .env("LETHE_TLS_CERT", &ca.cert)
        .env("LETHE_TLS_KEY", &ca.key);
    // Waited for off this test's runtime: the server's database connections are driven by
    // it, and /healthz asks the database.
    let status = tokio::task::spawn_blocking(move || healthcheck.status())
        .await
        .expect("join")
        .expect("run lethe");
    assert!(status.success(), "healthcheck over TLS");
}

/// Kills the child when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Pebble and its DNS: every name resolves to 127.0.0.1, and Pebble validates TLS-ALPN-01
/// on `tls_port`.
struct Pebble {
    directory: String,
    management: String,
    _dns: Running,
    _pebble: Running,
}

fn start_pebble(dir: &Path, ca: &TestCa, tls_port: u16) -> Pebble {
    let dns_port = free_port();
    let dns = Command::new("pebble-challtestsrv")
        .args([
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-dns01",
            &format!("127.0.0.1:{dns_port}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv (installed by scripts/test.sh)");
    let (api_port, management_port) = (free_port(), free_port());
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{api_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": ca.cert,
            "privateKey": ca.key,
            "httpPort": free_port(),
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    let config_file = dir.join("pebble.json");
    std::fs::write(&config_file, config.to_string()).expect("pebble config");
    let log = std::fs::File::create(dir.join("pebble.log")).expect("log");
    let pebble = Command::new("pebble")
        .arg("-config")
        .arg(&config_file)
        .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("pebble (installed by scripts/test.sh)");
    Pebble {
        directory: format!("https://127.0.0.1:{api_port}/dir"),
        management: format!("https://127.0.0.1:{management_port}"),
        _dns: Running(dns),
        _pebble: Running(pebble),
    }
}

/// Retries `request` until it answers (a certificate is in service) or the time is up.
async fn first_answer(client: &reqwest::Client, url: &str, within: Duration) -> reqwest::Response {
    let start = Instant::now();
    loop {
        match client.get(url).send().await {
            Ok(response) => return response,
            Err(error) if start.elapsed() > within => panic!("no answer from {url}: {error:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

fn served_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server's certificate")
        .to_vec()
}

#[tokio::test]
async fn acme_obtains_a_certificate_by_tls_alpn_01_and_keeps_it_across_restarts() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = test_ca(dir.path());
    let port = free_port();
    let pebble = start_pebble(dir.path(), &ca, port);
    let to_pebble = https_client(&ca.ca_pem).build().expect("client");
    first_answer(&to_pebble, &pebble.directory, Duration::from_secs(20)).await;
    let domain = "support.shop.test";
    let directory = pebble.directory.clone();
    let acme_env = |listen: u16| {
        vec![
            ("LETHE_LISTEN".to_owned(), format!("127.0.0.1:{listen}")),
            ("LETHE_ACME_DOMAIN".to_owned(), domain.to_owned()),
            ("LETHE_ACME_EMAIL".to_owned(), "it@shop.test".to_owned()),
            ("LETHE_ACME_DIRECTORY".to_owned(), directory.clone()),
            (
                "LETHE_ACME_CA_FILE".to_owned(),
                ca.ca_file.display().to_string(),
            ),
        ]
    };
    let app = spawn_app_with(AppOptions {
        extra_env: acme_env(port),
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.state.config.base_url.as_str(),
        format!("https://{domain}:{port}"),
        "the base URL defaults to the ACME name"
    );

    // The certificate chains to Pebble's root for this run (Pebble makes a new one each start).
    let root = to_pebble
        .get(format!("{}/roots/0", pebble.management))
        .send()
        .await
        .expect("pebble root")
        .text()
        .await
        .expect("root pem");
    let browser = |port: u16| {
        https_client(&root)
            .tls_info(true)
            .resolve(domain, format!("127.0.0.1:{port}").parse().expect("addr"))
            .build()
            .expect("client")
    };
    let url = |port: u16| format!("https://{domain}:{port}/healthz");
    let issued = first_answer(&browser(port), &url(port), Duration::from_secs(90)).await;
    assert_eq!(issued.status(), 200);
    let certificate = served_certificate(&issued);

    // The account and the certificate are kept (owner-only) in the data directory: a new
    // instance with them serves the same certificate without asking the CA, which is gone.
    let cache = app.data_dir.join("acme");
    let cached: Vec<PathBuf> = std::fs::read_dir(&cache)
        .expect("acme cache")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(
        cached.len() >= 2,
        "account and certificate cached: {cached:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the cache holds private keys: owner-only");
    }
    drop(pebble);
    let second_port = free_port();
    let restarted_dir = tempfile::tempdir().expect("dir");
    let data = restarted_dir.path().join("data");
    std::fs::create_dir_all(data.join("acme")).expect("dir");
    for file in &cached {
        std::fs::copy(
            file,
            data.join("acme").join(file.file_name().expect("name")),
        )
        .expect("copy");
    }
    let mut env = acme_env(second_port);
    env.push(("LETHE_DATA_DIR".to_owned(), data.display().to_string()));
    let restarted = spawn_app_with(AppOptions {
        extra_env: env,
        ..Default::default()
    })
    .await;
    let again = first_answer(
        &browser(second_port),
        &url(second_port),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        served_certificate(&again),
        certificate,
        "the cached certificate"
    );
    drop(restarted);
}
