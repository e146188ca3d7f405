//! Files attached in the reply and note forms: the message shown when a file is over a limit
//! (the form comes back with its text, nothing stored), and the hand-over of the files to the
//! mail module, which stores them (`mail::compose`).

use crate::mail::compose::NewAttachment;
use crate::web::i18n::Tr;
use crate::web::upload::{Limit, RejectedFile, UploadedFile};

/// "‘x.pdf’ (30.0 MB) is larger than the 20.0 MB allowed for one file…", one sentence per
/// dropped file; `None` when every file was within the limits.
pub fn problem(tr: &Tr, rejected: &[RejectedFile]) -> Option<String> {
    if rejected.is_empty() {
        return None;
    }
    let sentences: Vec<String> = rejected
        .iter()
        .map(|file| {
            let key = match file.limit {
                Limit::File => "attach.too_large_file",
                Limit::Message => "attach.too_large_message",
            };
            tr.tf(
                key,
                &[
                    ("name", &file.filename),
                    ("size", &human_size(file.size)),
                    ("limit", &human_size(file.limit_bytes)),
                ],
            )
        })
        .collect();
    Some(format!(
        "{} {}",
        sentences.join(" "),
        tr.t("attach.kept_text")
    ))
}

/// The uploaded files as the mail module takes them.
pub fn new_attachments(files: Vec<UploadedFile>) -> Vec<NewAttachment> {
    files
        .into_iter()
        .map(|file| NewAttachment {
            filename: file.filename,
            content_type: file.content_type,
            blob: file.blob,
        })
        .collect()
}

fn human_size(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}
