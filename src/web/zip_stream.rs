//! A ZIP written on a blocking thread and sent to the client as it is written: memory holds
//! one chunk and one attachment at a time, whatever the archive's size. A failure part-way is
//! logged (without personal data) and ends the body with an error, so the download is visibly
//! incomplete rather than silently short. The organization export and a customer's export
//! both answer through it, and so does an attachment download (any body written on a blocking
//! thread can).

use std::io::Write;

use actix_web::web::Bytes;

/// Bytes handed to the HTTP response at a time.
const CHUNK: usize = 64 * 1024;

/// The `Write` end: collects up to [`CHUNK`] bytes and hands them to the response.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Runs `write` on a blocking thread (database work goes through the runtime handle it is
/// given) and returns the stream of what it writes. `write` must flush the writer at the end
/// (`ZipWriter::finish` then `flush`); `what` names the export in the log.
pub fn stream<E: std::fmt::Display>(
    what: &'static str,
    write: impl FnOnce(&tokio::runtime::Handle, ChannelWriter) -> Result<(), E> + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let sink = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(error) = write(&handle, sink) {
            tracing::error!(%error, export = what, "export failed part-way");
            let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
