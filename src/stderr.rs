//! The one way anything reaches standard error. Each message is one line
//! with its control characters escaped, since names, types and sources come
//! from untrusted inputs and must not forge lines or drive the terminal; and
//! a closed stderr (`ingest DIR 2>&1 | head -1`) never stops a run, where
//! `eprintln!` would panic on the first write after it.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// Writes `ingest: MESSAGE` and a newline to stderr, escaped; a write that
/// fails (a closed pipe) is dropped: the run goes on, its exit code says
/// how the storing went.
pub fn line(message: fmt::Arguments<'_>) {
    let text = match message.as_str() {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(message.to_string()),
    };
    let mut bytes = Vec::with_capacity(text.len() + 9);
    bytes.extend_from_slice(b"ingest: ");
    bytes.extend_from_slice(escape(&text).as_bytes());
    bytes.push(b'\n');
    let _ = io::stderr().lock().write_all(&bytes);
}

/// `text` with every character that could move the cursor, end a line or
/// reorder what a terminal shows (C0 and C1 controls, DEL, the Unicode
/// bidirectional overrides) written as an escape (`\n`, `\u{1b}`).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push_str("\\t"),
            '\r' => escaped.push_str("\\r"),
            c if is_unsafe(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `n` and its noun, singular or plural: `1 entry`, `2 entries`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(escape("plain name.jpg"), "plain name.jpg");
        assert_eq!(escape("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(escape("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
    }
}
