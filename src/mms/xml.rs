//! A streaming scanner for the XML that SMS Backup & Restore writes.
//!
//! General XML readers hold a whole start tag, or each attribute value, in
//! memory; an MMS video is one attribute of hundreds of MiB. This scanner
//! reads through the caller's fixed buffer and hands each attribute value
//! over as a [`Read`]er, so a value is either streamed, kept up to a small
//! cap, or skipped, and never held whole. It knows what the backups use:
//! elements, attributes in either quote, the five entities and character
//! references (UTF-16 surrogate pairs included), comments and processing
//! instructions; a DOCTYPE is refused.

use std::io::{self, BufRead, Read};

use thiserror::Error;

/// Elements may nest this deep; backups use four levels.
const MAX_DEPTH: usize = 32;
/// Element and attribute names longer than this are malformed.
const MAX_NAME: usize = 256;
/// Character and entity references longer than this are malformed.
const MAX_REFERENCE: usize = 12;

/// Why the XML cannot be read further.
#[derive(Debug, Error)]
pub enum XmlError {
    #[error("truncated at byte {offset}: the backup ends inside {inside}")]
    Truncated { offset: u64, inside: String },
    #[error("malformed XML at byte {offset}: {what}")]
    Malformed { offset: u64, what: String },
    #[error("read failed at byte {offset}: {source}")]
    Io { offset: u64, source: io::Error },
}

impl XmlError {
    /// Wraps the error for a [`Read`] caller; [`Scanner::damage`] gets it back.
    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// What the scanner met next in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A start tag: its attributes follow through [`Scanner::attribute`].
    Start { name: String, offset: u64 },
    /// An end tag, or the end of an empty-element tag (`<part .../>`).
    End { name: String },
    /// The document ended with every element closed.
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tags.
    Content,
    /// Inside a start tag, before an attribute or its end.
    Tag,
    /// Inside a quoted attribute value.
    Value(u8),
}

/// How a value's text is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMode {
    /// As XML gives it: references decoded, literal tabs and newlines as
    /// spaces (attribute-value normalisation).
    Text,
    /// For base64: references decoded, then all whitespace dropped.
    Base64,
}

/// A pull scanner over buffered XML; see the module documentation.
pub struct Scanner<R> {
    input: R,
    /// Bytes consumed so far: the offset of the next byte.
    offset: u64,
    state: State,
    open: Vec<String>,
    /// The element whose empty-element tag just closed: its End is next.
    closing: Option<String>,
    /// The first error met; the scanner stops there.
    damage: Option<XmlError>,
}

impl<R: BufRead> Scanner<R> {
    pub fn new(input: R) -> Self {
        Scanner {
            input,
            offset: 0,
            state: State::Content,
            open: Vec::new(),
            closing: None,
            damage: None,
        }
    }

    /// How many elements are open.
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// The error that stopped the scanner, taken: a value reader's failure
    /// is the document's damage, not the value's.
    pub fn take_damage(&mut self) -> Option<XmlError> {
        self.damage.take()
    }

    /// The next tag, skipping text, comments, processing instructions and
    /// whatever is left of the current tag.
    pub fn next_event(&mut self) -> Result<Event, XmlError> {
        self.guard()?;
        let result = self.next_event_inner();
        self.record(result)
    }

    fn next_event_inner(&mut self) -> Result<Event, XmlError> {
        while self.state != State::Content {
            if self.attribute_inner()?.is_some() {
                self.skip_value_inner()?;
            }
        }
        if let Some(name) = self.closing.take() {
            return Ok(Event::End { name });
        }
        loop {
            if !self.skip_to(b'<')? {
                if let Some(open) = self.open.last() {
                    return Err(self.truncated(&format!("<{open}>")));
                }
                return Ok(Event::Eof);
            }
            let offset = self.offset;
            self.bump();
            match self.peek()? {
                Some(b'?') => self.skip_past(b"?>", "a processing instruction")?,
                Some(b'!') => self.skip_declaration()?,
                Some(b'/') => {
                    self.bump();
                    return self.end_tag();
                }
                Some(_) => {
                    let name = self.name()?;
                    if self.open.len() >= MAX_DEPTH {
                        return Err(
                            self.malformed(format!("elements nest deeper than {MAX_DEPTH}"))
                        );
                    }
                    self.open.push(name.clone());
                    self.state = State::Tag;
                    return Ok(Event::Start { name, offset });
                }
                None => return Err(self.truncated("a tag")),
            }
        }
    }

    /// The next attribute's name, with the scanner at its value; None once
    /// the tag has ended. Each value must be read, kept or skipped before the
    /// next call.
    pub fn attribute(&mut self) -> Result<Option<String>, XmlError> {
        self.guard()?;
        let result = self.attribute_inner();
        self.record(result)
    }

    fn attribute_inner(&mut self) -> Result<Option<String>, XmlError> {
        match self.state {
            State::Tag => {}
            State::Value(_) => return Err(self.malformed("an attribute value was left unread")),
            State::Content => return Ok(None),
        }
        self.skip_whitespace()?;
        match self.peek()? {
            None => Err(self.truncated("a tag")),
            Some(b'>') => {
                self.bump();
                self.state = State::Content;
                Ok(None)
            }
            Some(b'/') => {
                self.bump();
                self.expect(b'>', "`>` after `/`")?;
                self.state = State::Content;
                self.closing = self.open.pop();
                Ok(None)
            }
            Some(_) => {
                let name = self.name()?;
                self.skip_whitespace()?;
                self.expect(b'=', "`=` after an attribute name")?;
                self.skip_whitespace()?;
                match self.peek()? {
                    Some(quote @ (b'"' | b'\'')) => {
                        self.bump();
                        self.state = State::Value(quote);
                        Ok(Some(name))
                    }
                    Some(_) => Err(self.malformed("an attribute value without quotes")),
                    None => Err(self.truncated("a tag")),
                }
            }
        }
    }

    /// Whether the value about to be read is empty (`data=""`).
    pub fn value_is_empty(&mut self) -> Result<bool, XmlError> {
        let State::Value(quote) = self.state else {
            return Ok(false);
        };
        let next = self.peek();
        Ok(self.record(next)? == Some(quote))
    }

    /// Whether the value about to be read is the app's `null` (checked in
    /// what is buffered, which in practice always holds it).
    pub fn value_is_null(&mut self) -> Result<bool, XmlError> {
        let State::Value(quote) = self.state else {
            return Ok(false);
        };
        let head = match self.fill() {
            Ok(buf) => buf[..buf.len().min(5)].to_vec(),
            Err(e) => return self.record(Err(e)),
        };
        Ok(head.len() == 5 && head[..4] == *b"null" && head[4] == quote)
    }

    /// The value as a stream of its decoded bytes. Reading it to its end
    /// leaves the scanner after the closing quote.
    pub fn value_reader(&mut self, mode: ValueMode) -> ValueReader<'_, R> {
        ValueReader {
            scanner: self,
            mode,
            pending: [0; 8],
            pending_start: 0,
            pending_end: 0,
        }
    }

    /// The value as text when it decodes to at most `cap` bytes; a longer
    /// value is read through and None returned.
    pub fn value_text(&mut self, cap: usize) -> Result<Option<String>, XmlError> {
        let mut kept = Vec::new();
        let mut buf = [0u8; 1024];
        let mut fits = true;
        let outcome = {
            let mut reader = self.value_reader(ValueMode::Text);
            loop {
                match reader.read_value(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) if fits && kept.len() + n <= cap => kept.extend_from_slice(&buf[..n]),
                    Ok(_) => fits = false,
                    Err(e) => break Err(e),
                }
            }
        };
        self.record(outcome)?;
        Ok(fits.then(|| String::from_utf8_lossy(&kept).into_owned()))
    }

    /// Skips the rest of the current value, if the scanner is inside one.
    pub fn skip_value(&mut self) -> Result<(), XmlError> {
        self.guard()?;
        let result = self.skip_value_inner();
        self.record(result)
    }

    fn skip_value_inner(&mut self) -> Result<(), XmlError> {
        let State::Value(quote) = self.state else {
            return Ok(());
        };
        if !self.skip_to(quote)? {
            return Err(self.truncated("an attribute value"));
        }
        self.bump();
        self.state = State::Tag;
        Ok(())
    }

    fn end_tag(&mut self) -> Result<Event, XmlError> {
        let name = self.name()?;
        self.skip_whitespace()?;
        self.expect(b'>', "`>` to end a closing tag")?;
        match self.open.pop() {
            Some(open) if open == name => Ok(Event::End { name }),
            Some(open) => Err(self.malformed(format!("</{name}> closes <{open}>"))),
            None => Err(self.malformed(format!("</{name}> closes nothing"))),
        }
    }

    /// After `<!`: a comment or CDATA is skipped; a DOCTYPE is refused (its
    /// entities could expand without bound).
    fn skip_declaration(&mut self) -> Result<(), XmlError> {
        self.bump();
        let mut head = [0u8; 7];
        let mut len = 0;
        while len < head.len() {
            match self.peek()? {
                Some(b) => {
                    head[len] = b;
                    len += 1;
                    self.bump();
                    if head[..len] == *b"--" {
                        return self.skip_past(b"-->", "a comment");
                    }
                    if head[..len] == *b"[CDATA[" {
                        return self.skip_past(b"]]>", "a CDATA section");
                    }
                }
                None => return Err(self.truncated("a declaration")),
            }
        }
        if head.eq_ignore_ascii_case(b"DOCTYPE") {
            return Err(self.malformed("a DOCTYPE declaration is refused"));
        }
        Err(self.malformed("an unknown `<!` declaration"))
    }

    fn name(&mut self) -> Result<String, XmlError> {
        let mut name = Vec::new();
        while let Some(b) = self.peek()? {
            if b.is_ascii_whitespace() || matches!(b, b'=' | b'>' | b'/' | b'<' | b'"' | b'\'') {
                break;
            }
            if name.len() == MAX_NAME {
                return Err(self.malformed(format!("a name longer than {MAX_NAME} bytes")));
            }
            name.push(b);
            self.bump();
        }
        if name.is_empty() {
            return match self.peek()? {
                None => Err(self.truncated("a tag")),
                Some(b) => Err(self.malformed(format!("expected a name, found {:?}", b as char))),
            };
        }
        Ok(String::from_utf8_lossy(&name).into_owned())
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), XmlError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.malformed(format!("expected {what}"))),
            None => Err(self.truncated("a tag")),
        }
    }

    fn skip_whitespace(&mut self) -> Result<(), XmlError> {
        while let Some(b) = self.peek()? {
            if !b.is_ascii_whitespace() {
                break;
            }
            self.bump();
        }
        Ok(())
    }

    /// Skips to the next `byte`, leaving it unread; false at the end.
    fn skip_to(&mut self, byte: u8) -> Result<bool, XmlError> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match memchr::memchr(byte, buf) {
                Some(at) => {
                    self.consume(at);
                    return Ok(true);
                }
                None => {
                    let n = buf.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Skips past the next `end` (at most 3 bytes), byte by byte: comments
    /// and instructions are short and rare.
    fn skip_past(&mut self, end: &[u8], inside: &str) -> Result<(), XmlError> {
        let mut window = [0u8; 3];
        let mut seen = 0;
        loop {
            let Some(b) = self.peek()? else {
                return Err(self.truncated(inside));
            };
            self.bump();
            window.rotate_left(1);
            window[2] = b;
            seen += 1;
            if seen >= end.len() && window[3 - end.len()..] == *end {
                return Ok(());
            }
        }
    }

    fn fill(&mut self) -> Result<&[u8], XmlError> {
        let offset = self.offset;
        loop {
            match self.input.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(XmlError::Io { offset, source }),
            }
        }
        self.input
            .fill_buf()
            .map_err(|source| XmlError::Io { offset, source })
    }

    fn peek(&mut self) -> Result<Option<u8>, XmlError> {
        Ok(self.fill()?.first().copied())
    }

    /// Consumes one byte already peeked.
    fn bump(&mut self) {
        self.consume(1);
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.offset += n as u64;
    }

    fn guard(&mut self) -> Result<(), XmlError> {
        match &self.damage {
            None => Ok(()),
            Some(e) => Err(XmlError::Malformed {
                offset: self.offset,
                what: format!("already failed: {e}"),
            }),
        }
    }

    /// Keeps a copy of the first error, so that a value reader's caller can
    /// tell the document's damage from the value's.
    fn record<T>(&mut self, result: Result<T, XmlError>) -> Result<T, XmlError> {
        if let Err(e) = &result
            && self.damage.is_none()
        {
            self.damage = Some(copy_of(e));
        }
        result
    }

    fn malformed(&self, what: impl Into<String>) -> XmlError {
        XmlError::Malformed {
            offset: self.offset,
            what: what.into(),
        }
    }

    fn truncated(&self, inside: &str) -> XmlError {
        XmlError::Truncated {
            offset: self.offset,
            inside: inside.to_owned(),
        }
    }
}

fn copy_of(e: &XmlError) -> XmlError {
    match e {
        XmlError::Truncated { offset, inside } => XmlError::Truncated {
            offset: *offset,
            inside: inside.clone(),
        },
        XmlError::Malformed { offset, what } => XmlError::Malformed {
            offset: *offset,
            what: what.clone(),
        },
        XmlError::Io { offset, source } => XmlError::Io {
            offset: *offset,
            source: io::Error::new(source.kind(), source.to_string()),
        },
    }
}

/// One attribute value, decoded as it streams; see [`Scanner::value_reader`].
pub struct ValueReader<'a, R> {
    scanner: &'a mut Scanner<R>,
    mode: ValueMode,
    /// Decoded bytes of a reference not yet handed out.
    pending: [u8; 8],
    pending_start: usize,
    pending_end: usize,
}

impl<R: BufRead> ValueReader<'_, R> {
    fn read_value(&mut self, out: &mut [u8]) -> Result<usize, XmlError> {
        self.scanner.guard()?;
        let mut written = self.drain_pending(out);
        while written < out.len() {
            let State::Value(quote) = self.scanner.state else {
                break;
            };
            let buf = self.scanner.fill()?;
            if buf.is_empty() {
                return Err(self.scanner.truncated("an attribute value"));
            }
            let run = memchr::memchr2(quote, b'&', buf).unwrap_or(buf.len());
            if run == 0 {
                if buf[0] == quote {
                    self.scanner.bump();
                    self.scanner.state = State::Tag;
                    break;
                }
                self.decode_reference()?;
                written += self.drain_pending(&mut out[written..]);
                continue;
            }
            let n = run.min(out.len() - written);
            let kept = normalise(&buf[..n], &mut out[written..], self.mode);
            self.scanner.consume(n);
            written += kept;
        }
        Ok(written)
    }

    fn drain_pending(&mut self, out: &mut [u8]) -> usize {
        let pending = &self.pending[self.pending_start..self.pending_end];
        let n = pending.len().min(out.len());
        out[..n].copy_from_slice(&pending[..n]);
        self.pending_start += n;
        n
    }

    /// Decodes the reference at `&` into `pending`. A UTF-16 surrogate pair
    /// written as two references (as the app writes emoji) becomes one
    /// character; a lone surrogate becomes U+FFFD; an unknown entity is kept
    /// as written.
    fn decode_reference(&mut self) -> Result<(), XmlError> {
        let mut text = String::new();
        let first = self.reference(&mut text)?;
        let ch = match first {
            Reference::Char(c) => Some(c),
            Reference::High(high) => {
                let next_is_reference = self.scanner.peek()? == Some(b'&');
                if next_is_reference {
                    let mut second = String::new();
                    match self.reference(&mut second)? {
                        Reference::Low(low) => {
                            let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                            char::from_u32(c)
                        }
                        other => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            text.push_str(&other.as_text(&second));
                            None
                        }
                    }
                } else {
                    Some(char::REPLACEMENT_CHARACTER)
                }
            }
            Reference::Low(_) => Some(char::REPLACEMENT_CHARACTER),
            Reference::Unknown => None,
        };
        if let Some(c) = ch {
            text.clear();
            text.push(c);
        }
        let mut bytes = text.into_bytes();
        if self.mode == ValueMode::Base64 {
            bytes.retain(|b| !b.is_ascii_whitespace());
        }
        let n = bytes.len().min(self.pending.len());
        self.pending[..n].copy_from_slice(&bytes[..n]);
        self.pending_start = 0;
        self.pending_end = n;
        Ok(())
    }

    /// Reads one `&...;` reference; `raw` receives its text as written.
    fn reference(&mut self, raw: &mut String) -> Result<Reference, XmlError> {
        let quote = match self.scanner.state {
            State::Value(q) => q,
            _ => b'"',
        };
        self.scanner.bump();
        raw.push('&');
        let mut body = String::new();
        loop {
            match self.scanner.peek()? {
                None => return Err(self.scanner.truncated("an attribute value")),
                Some(b';') => {
                    self.scanner.bump();
                    raw.push_str(&body);
                    raw.push(';');
                    return Ok(Reference::parse(&body));
                }
                Some(b) if b == quote || b == b'&' || body.len() == MAX_REFERENCE => {
                    raw.push_str(&body);
                    return Ok(Reference::Unknown);
                }
                Some(b) => {
                    body.push(b as char);
                    self.scanner.bump();
                }
            }
        }
    }
}

impl<R: BufRead> Read for ValueReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let result = self.read_value(out);
        self.scanner.record(result).map_err(XmlError::into_io)
    }
}

/// Copies `raw` into `out` as `mode` asks; returns the bytes written.
fn normalise(raw: &[u8], out: &mut [u8], mode: ValueMode) -> usize {
    match mode {
        ValueMode::Text => {
            for (o, &b) in out.iter_mut().zip(raw) {
                *o = if matches!(b, b'\t' | b'\n' | b'\r') {
                    b' '
                } else {
                    b
                };
            }
            raw.len()
        }
        ValueMode::Base64 => {
            // Real backups hold one unbroken run: copy, and compact only
            // when a vectorised search finds whitespace.
            let out = &mut out[..raw.len()];
            out.copy_from_slice(raw);
            let spaced = memchr::memchr3(b' ', b'\n', b'\r', raw).is_some()
                || memchr::memchr2(b'\t', 0x0c, raw).is_some();
            if !spaced {
                return raw.len();
            }
            let mut n = 0;
            for i in 0..out.len() {
                if !out[i].is_ascii_whitespace() {
                    out[n] = out[i];
                    n += 1;
                }
            }
            n
        }
    }
}

enum Reference {
    Char(char),
    High(u32),
    Low(u32),
    Unknown,
}

impl Reference {
    fn parse(body: &str) -> Reference {
        let code = match body {
            "lt" => return Reference::Char('<'),
            "gt" => return Reference::Char('>'),
            "amp" => return Reference::Char('&'),
            "quot" => return Reference::Char('"'),
            "apos" => return Reference::Char('\''),
            _ => match body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => body.strip_prefix('#').and_then(|dec| dec.parse().ok()),
            },
        };
        match code {
            Some(c @ 0xD800..=0xDBFF) => Reference::High(c),
            Some(c @ 0xDC00..=0xDFFF) => Reference::Low(c),
            Some(c) => char::from_u32(c).map_or(Reference::Unknown, Reference::Char),
            None => Reference::Unknown,
        }
    }

    /// The text this reference stands for when it is not part of a pair.
    fn as_text(&self, raw: &str) -> String {
        match self {
            Reference::Char(c) => c.to_string(),
            Reference::High(_) | Reference::Low(_) => char::REPLACEMENT_CHARACTER.to_string(),
            Reference::Unknown => raw.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &str) -> Vec<String> {
        let mut scanner = Scanner::new(xml.as_bytes());
        let mut seen = Vec::new();
        loop {
            match scanner.next_event() {
                Ok(Event::Start { name, .. }) => {
                    seen.push(format!("<{name}"));
                    loop {
                        match scanner.attribute() {
                            Ok(Some(attr)) => match scanner.value_text(64) {
                                Ok(value) => seen.push(format!("{attr}={value:?}")),
                                Err(e) => {
                                    seen.push(format!("error: {e}"));
                                    return seen;
                                }
                            },
                            Ok(None) => break,
                            Err(e) => {
                                seen.push(format!("error: {e}"));
                                return seen;
                            }
                        }
                    }
                }
                Ok(Event::End { name }) => seen.push(format!("/{name}")),
                Ok(Event::Eof) => return seen,
                Err(e) => {
                    seen.push(format!("error: {e}"));
                    return seen;
                }
            }
        }
    }

    #[test]
    fn reads_both_quotes_comments_and_empty_elements() {
        let xml = "<?xml version='1.0'?><!-- a & b --><a x='1' y=\"t&amp;&#10;u\"><b z=\"\"/></a>";
        assert_eq!(
            events(xml),
            [
                "<a",
                "x=Some(\"1\")",
                "y=Some(\"t&\\nu\")",
                "<b",
                "z=Some(\"\")",
                "/b",
                "/a"
            ]
        );
    }

    #[test]
    fn joins_surrogate_pairs_and_replaces_lone_ones() {
        let xml = "<a n=\"&#55357;&#56832;x&#55357;y&#56832;\"/>";
        assert_eq!(events(xml)[1], "n=Some(\"😀x\u{FFFD}y\u{FFFD}\")");
    }

    #[test]
    fn long_values_are_skipped_not_kept() {
        let long = "x".repeat(100);
        let xml = format!("<a n=\"{long}\" m=\"ok\"/>");
        assert_eq!(events(&xml)[1..3], ["n=None", "m=Some(\"ok\")"]);
    }

    #[test]
    fn refuses_doctype_and_reports_truncation_with_its_offset() {
        assert!(events("<!DOCTYPE x [<!ENTITY a 'b'>]><a/>")[0].contains("DOCTYPE"));
        let cut = events("<a><b x=\"12");
        assert!(
            cut.last().unwrap().contains("truncated at byte 11"),
            "{cut:?}"
        );
        let open = events("<a><b/>");
        assert!(open.last().unwrap().contains("inside <a>"), "{open:?}");
        let mismatch = events("<a></b>");
        assert!(mismatch.last().unwrap().contains("</b> closes <a>"));
    }

    #[test]
    fn base64_mode_drops_whitespace_and_newline_references() {
        let mut scanner = Scanner::new(&b"<p data=\"QU&#10;J D\nRA==\"/>"[..]);
        scanner.next_event().unwrap();
        assert_eq!(scanner.attribute().unwrap().as_deref(), Some("data"));
        let mut text = String::new();
        scanner
            .value_reader(ValueMode::Base64)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "QUJDRA==");
        assert_eq!(scanner.attribute().unwrap(), None);
    }
}
