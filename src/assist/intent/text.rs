//! What of a customer message the classifier reads: the subject and the text the customer
//! wrote, without the quoted earlier mails below it ("> …" lines, "On … wrote:", "Am …
//! schrieb …:", "-----Original Message-----" and their equivalents in the six languages) and
//! without a signature after "-- ".

/// Lines that start the quote of an earlier mail; everything from them on is dropped.
fn starts_quote(line: &str) -> bool {
    let l = line.trim();
    if l.starts_with("-----") && l.to_lowercase().contains("original") {
        return true;
    }
    if l == "-- " || l == "--" || l == "________________________________" {
        return true;
    }
    let lower = l.to_lowercase();
    let verbs = [
        " wrote",
        " schrieb",
        " geschrieben",
        " a écrit",
        " escribió",
        " ha scritto",
        " schreef",
        " geschreven",
    ];
    let starts = [
        "on ", "am ", "le ", "el ", "il ", "op ", "from:", "von:", "de :", "da:", "van:",
    ];
    (lower.ends_with(':')
        && verbs.iter().any(|v| lower.contains(v))
        && starts.iter().any(|s| lower.starts_with(s)))
        || ((lower.starts_with("from:") || lower.starts_with("von:")) && lower.contains('@'))
}

/// The customer's own words of a message body.
pub fn own_words(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for line in body.lines() {
        if starts_quote(line) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Subject and own words, the subject without reply and forward prefixes.
pub fn message_text(subject: &str, body: &str) -> String {
    let mut subject = subject.trim();
    loop {
        let lower = subject.to_lowercase();
        let Some(prefix) = [
            "re:", "aw:", "fw:", "fwd:", "wg:", "tr:", "rif:", "r:", "sv:",
        ]
        .into_iter()
        .find(|p| lower.starts_with(p)) else {
            break;
        };
        subject = subject[prefix.len()..].trim_start();
    }
    format!("{subject}\n{}", own_words(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_mail_and_signature_are_dropped() {
        let body = "Wo bleibt mein Paket?\n\nAm 3. März 2026 schrieb Shop <a@b.de>:\n> Danke für Ihre Bestellung\n";
        assert_eq!(own_words(body).trim(), "Wo bleibt mein Paket?");
        let body = "Hello\n> old line\nstill mine\n-- \nJane\n";
        assert_eq!(own_words(body).trim(), "Hello\nstill mine");
        let body = "Merci\nLe lun. 3 mars 2026, Boutique a écrit :\nBonjour";
        assert_eq!(own_words(body).trim(), "Merci");
    }

    #[test]
    fn reply_prefixes_leave_the_subject() {
        assert!(message_text("AW: Re: Rechnung", "x").starts_with("Rechnung\n"));
    }
}
