//! A real SMTP server that records what it receives (scripts/smtp_recorder.py, aiosmtpd),
//! started per test so a test can stop and restart it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpRecorder {
    pub port: u16,
    pub dir: PathBuf,
    /// Extra arguments of the recorder (`--xoauth2 URL`).
    args: Vec<String>,
    child: Option<Child>,
    /// While stopped: a listener on the port that hangs up on every connection, so the port
    /// stays this recorder's (another test's free port cannot land on it) and a client fails
    /// at once, as it would against a server that is down.
    hold: Option<tokio::task::JoinHandle<()>>,
    _tmp: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn recorder_script() -> String {
    std::env::var("LETHE_TEST_SMTP_RECORDER")
        .unwrap_or_else(|_| format!("{}/scripts/smtp_recorder.py", env!("CARGO_MANIFEST_DIR")))
}

impl SmtpRecorder {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A recorder started with extra arguments, e.g. `["--xoauth2", introspection_url]`.
    pub async fn start_with(args: &[String]) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("smtp-")
            .tempdir_in(super::helpers::test_tmp_root())
            .expect("tmp");
        let dir = tmp.path().join("received");
        std::fs::create_dir_all(&dir).expect("dir");
        let mut recorder = Self {
            port: free_port(),
            dir,
            args: args.to_vec(),
            child: None,
            hold: None,
            _tmp: tmp,
        };
        recorder.resume().await;
        recorder
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port.
    pub async fn resume(&mut self) {
        if let Some(hold) = self.hold.take() {
            hold.abort();
            let _ = hold.await;
        }
        let child = Command::new("python3")
            .arg(recorder_script())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--dir",
            ])
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd is installed by scripts/test.sh");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMTP recorder did not start on port {}", self.port);
    }

    /// Stops the server (a client's connection fails at once) and keeps its port for
    /// [`SmtpRecorder::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(tokio::net::TcpListener::from_std)
            .expect("the stopped recorder keeps its port");
        self.hold = Some(tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                drop(connection);
            }
        }));
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    /// Waits until at least `count` messages arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} messages at the SMTP server, got {}",
            self.messages().len()
        );
    }
}

impl Drop for SmtpRecorder {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(hold) = self.hold.take() {
            hold.abort();
        }
    }
}

/// Undoes quoted-printable soft line breaks so links can be found in a mail body.
pub fn unfold_qp(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}
