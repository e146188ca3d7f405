//! Splitting mbox files (mboxo and mboxrd) into raw messages for bulk import.

use std::borrow::Cow;

/// Splits an mbox file into raw messages.
///
/// A message starts at a `From ` line at the start of the file or of a line; to avoid splitting
/// on an unescaped body line such as "From here on…", the line must also contain a time of day
/// (`HH:MM`, part of the date of a real separator line). The `From ` line itself is removed, as is the blank line that
/// separates messages. `>From ` quoting is undone the mboxrd way (one `>` is removed from any
/// line matching `>+From `), which also covers mboxo.
///
/// Items borrow from `data` unless a line had to be unescaped.
pub fn split_mbox(data: &[u8]) -> impl Iterator<Item = Cow<'_, [u8]>> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let line_end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        if is_from_line(&data[pos..line_end]) {
            starts.push((pos, line_end));
        }
        pos = line_end;
    }
    let mut messages = Vec::with_capacity(starts.len());
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(data.len(), |&(next, _)| next);
        messages.push(trim_separator(&data[body_start..end]));
    }
    messages
        .into_iter()
        .filter(|m| !m.iter().all(u8::is_ascii_whitespace))
        .map(unescape)
}

/// `From sender asctime-date`: besides the `From ` prefix, a real separator line carries a time
/// of day (`HH:MM`), which ordinary prose starting with "From " rarely does.
fn is_from_line(line: &[u8]) -> bool {
    line.starts_with(b"From ")
        && line[5..].windows(5).any(|w| {
            w[0].is_ascii_digit()
                && w[1].is_ascii_digit()
                && w[2] == b':'
                && w[3].is_ascii_digit()
                && w[4].is_ascii_digit()
        })
}

/// Removes the blank line that separates a message from the next `From ` line.
fn trim_separator(message: &[u8]) -> &[u8] {
    for ending in [&b"\r\n\r\n"[..], b"\n\n"] {
        if message.ends_with(ending) {
            return &message[..message.len() - ending.len() / 2];
        }
    }
    message
}

fn needs_unescape(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    quotes > 0 && line[quotes..].starts_with(b"From ")
}

fn unescape(message: &[u8]) -> Cow<'_, [u8]> {
    if !message.split(|&b| b == b'\n').any(needs_unescape) {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if needs_unescape(line) {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBOX: &[u8] = b"From alice@example.com Thu Aug 22 13:17:22 2002\n\
Subject: one\n\
\n\
Hello\n\
>From the start\n\
>>From quoted twice\n\
From here on no digit\n\
From the 2nd floor, we ship\n\
\n\
From bob@example.com Fri Aug 23 10:00:00 2002\n\
Subject: two\n\
\n\
Bye\n";

    #[test]
    fn splits_messages_and_strips_from_lines() {
        let messages: Vec<_> = split_mbox(MBOX).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with(b"Subject: one\n"));
        assert_eq!(&messages[1][..], b"Subject: two\n\nBye\n");
    }

    #[test]
    fn from_quoting_is_undone_mboxrd_style() {
        let messages: Vec<_> = split_mbox(MBOX).collect();
        let first = String::from_utf8_lossy(&messages[0]);
        assert!(first.contains("\nFrom the start\n"), "{first}");
        assert!(first.contains("\n>From quoted twice\n"), "{first}");
        assert!(first.contains("\nFrom here on no digit\n"), "{first}");
        assert!(first.ends_with("we ship\n"), "{first}");
    }

    #[test]
    fn unescaped_messages_are_borrowed() {
        let messages: Vec<_> = split_mbox(MBOX).collect();
        assert!(matches!(messages[1], Cow::Borrowed(_)));
        assert!(matches!(messages[0], Cow::Owned(_)));
    }

    #[test]
    fn file_without_from_lines_or_empty_yields_nothing() {
        assert_eq!(split_mbox(b"").count(), 0);
        assert_eq!(split_mbox(b"Subject: x\n\nbody\n").count(), 0);
    }

    #[test]
    fn crlf_mbox_is_split() {
        let data = b"From a@b.c Mon Jan 1 00:00:00 2024\r\nSubject: a\r\n\r\nx\r\n\r\nFrom a@b.c Mon Jan 1 00:00:01 2024\r\nSubject: b\r\n\r\ny\r\n";
        let messages: Vec<_> = split_mbox(data).collect();
        assert_eq!(messages.len(), 2);
        assert_eq!(&messages[0][..], b"Subject: a\r\n\r\nx\r\n");
    }
}

/// One item of a streamed mbox.
pub enum MboxItem {
    Message(Vec<u8>),
    /// A message larger than the limit: skipped without holding it in memory.
    TooLarge(usize),
}

/// Reads an mbox file message by message, holding at most one message (up to `limit` bytes)
/// in memory, with the same separator and unescaping rules as [`split_mbox`].
pub struct MboxReader<R> {
    reader: R,
    limit: usize,
    current: Vec<u8>,
    current_len: usize,
    started: bool,
    done: bool,
}

impl<R: std::io::BufRead> MboxReader<R> {
    pub fn new(reader: R, limit: usize) -> Self {
        Self {
            reader,
            limit,
            current: Vec::new(),
            current_len: 0,
            started: false,
            done: false,
        }
    }

    fn take_current(&mut self) -> Option<MboxItem> {
        let len = std::mem::take(&mut self.current_len);
        let message = std::mem::take(&mut self.current);
        if len > self.limit {
            return Some(MboxItem::TooLarge(len));
        }
        if message.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some(MboxItem::Message(
            unescape(trim_separator(&message)).into_owned(),
        ))
    }
}

impl<R: std::io::BufRead> Iterator for MboxReader<R> {
    type Item = std::io::Result<MboxItem>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Vec::new();
        loop {
            if self.done {
                return None;
            }
            line.clear();
            match self.reader.read_until(b'\n', &mut line) {
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
                Ok(0) => {
                    self.done = true;
                    return self.take_current().map(Ok);
                }
                Ok(_) => {}
            }
            if is_from_line(&line) {
                let had_message = self.started;
                self.started = true;
                if had_message && let Some(item) = self.take_current() {
                    return Some(Ok(item));
                }
                continue;
            }
            if !self.started {
                // Text before the first separator: a file that is not an mbox is one message.
                self.started = true;
            }
            self.current_len += line.len();
            if self.current_len <= self.limit {
                self.current.extend_from_slice(&line);
            } else {
                self.current = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn streamed_reading_matches_splitting() {
        let data = b"From a@b Mon Jan  1 10:00:00 2026\nSubject: one\n\n>From here\nbody\n\nFrom c@d Mon Jan  1 11:00:00 2026\nSubject: two\n\nx\n";
        let streamed: Vec<Vec<u8>> = MboxReader::new(&data[..], 1 << 20)
            .map(|item| match item.unwrap() {
                MboxItem::Message(m) => m,
                MboxItem::TooLarge(_) => panic!("not too large"),
            })
            .collect();
        let split: Vec<Vec<u8>> = split_mbox(data).map(|m| m.into_owned()).collect();
        assert_eq!(streamed, split);
        assert_eq!(streamed.len(), 2);
        let limited: Vec<bool> = MboxReader::new(&data[..], 20)
            .map(|i| matches!(i.unwrap(), MboxItem::TooLarge(_)))
            .collect();
        assert_eq!(limited, vec![true, false]);
    }
}
