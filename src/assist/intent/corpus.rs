//! The format of the labelled sets (the starter set in `starter/`, the dev and held-out sets
//! under `tests/intent_corpus/`): one file per language, blocks headed by a line
//! `### intent_name`, the message text following until the next `### ` line.

use super::kind::Intent;

/// A labelled message, or a header naming no known intent (`Err(header)`).
pub fn parse(source: &str) -> Result<Vec<(Intent, String)>, String> {
    let mut out: Vec<(Intent, String)> = Vec::new();
    let mut current: Option<(Intent, String)> = None;
    for line in source.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            if let Some(done) = current.take() {
                out.push(done);
            }
            let intent = Intent::parse(name).ok_or_else(|| format!("unknown intent {name:?}"))?;
            current = Some((intent, String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out.extend(current);
    Ok(out
        .into_iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_split_at_headers_and_unknown_intents_refused() {
        let parsed = parse("### refund\nMoney back\nplease\n### spam\nBuy now\n").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0],
            (Intent::Refund, "Money back\nplease\n".to_owned())
        );
        assert_eq!(parsed[1].0, Intent::Spam);
        assert!(parse("### refunds\nx\n").is_err());
    }
}
