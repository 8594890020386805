//! `multipart/form-data` (RFC 7578) read in bounded memory.
//!
//! Everything a client controls before a part's data is held only up to a
//! limit: the preamble, the padding after a boundary, each part's header
//! block and its number of headers, a form field's value. Past a limit the
//! body is refused with a reason, never buffered further. A part's data
//! goes out as slices of the chunks it came in (no copy), less the few
//! bytes at a chunk's end that might begin a boundary.
//!
//! [`Parser`] is the state machine, fed chunks and asked for events, so it
//! can be tested without a server; [`Multipart`] drives it from a body.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Bytes before the first boundary, at most (browsers send none).
pub const MAX_PREAMBLE: usize = 16 * 1024;

/// Bytes of one part's header block, at most: the request head's limit.
pub const MAX_PART_HEAD: usize = super::MAX_HEAD_BYTES;

/// Headers one part may have, at most (a browser sends two).
pub const MAX_PART_HEADERS: usize = 16;

/// Bytes of a form field's value (a part that is not a file), at most.
pub const MAX_FIELD_BYTES: u64 = 64 * 1024;

/// Bytes of padding allowed between a boundary and its line's end.
const MAX_PADDING: usize = 256;

/// Why a multipart body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Over a limit: the answer is 413 (or 431 for a header block).
    TooLarge(String),
    /// Not multipart as the RFC writes it: the answer is 400.
    Invalid(String),
    /// The body ended, or broke, before the closing boundary.
    Cut(String),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TooLarge(why) | Malformed::Invalid(why) | Malformed::Cut(why) => {
                f.write_str(why)
            }
        }
    }
}

impl std::error::Error for Malformed {}

/// What the parser found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A part begins, with its headers.
    Part(HeaderMap),
    /// Bytes of the current part's data.
    Data(Bytes),
    /// The current part's data ended.
    PartEnd,
    /// The closing boundary: nothing after it is read.
    End,
    /// Feed it the body's next chunk.
    NeedMore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    /// Just after a boundary: `--` ends the body, else padding and CRLF.
    AfterBoundary,
    Headers,
    Data,
    /// The data ended at a delimiter: say so, then read what follows it.
    PartEnding,
    Done,
}

/// The state machine; see the module documentation.
pub struct Parser {
    /// `\r\n--BOUNDARY`: what ends a part's data.
    delimiter: Vec<u8>,
    finder: memchr::memmem::Finder<'static>,
    state: State,
    /// Bytes kept between chunks: a header block being gathered, or the
    /// end of the last chunk that may begin a delimiter.
    held: BytesMut,
    /// The unread rest of the chunk last fed.
    input: Bytes,
    preamble: usize,
}

impl Parser {
    pub fn new(boundary: &str) -> Parser {
        let delimiter = [b"\r\n--".as_slice(), boundary.as_bytes()].concat();
        let finder = memchr::memmem::Finder::new(&delimiter).into_owned();
        // The first boundary may open the body with no CRLF before it.
        let held = BytesMut::from(&b"\r\n"[..]);
        Parser {
            delimiter,
            finder,
            state: State::Preamble,
            held,
            input: Bytes::new(),
            preamble: 0,
        }
    }

    /// Gives the parser the body's next chunk, once it asked for more.
    pub fn feed(&mut self, chunk: Bytes) {
        debug_assert!(self.input.is_empty());
        self.input = chunk;
    }

    /// The next event, using what was fed so far.
    pub fn next_event(&mut self) -> Result<Event, Malformed> {
        loop {
            let progressed = match self.state {
                State::Preamble => self.preamble()?,
                State::AfterBoundary => self.after_boundary()?,
                State::Headers => match self.headers()? {
                    Some(headers) => return Ok(Event::Part(headers)),
                    None => false,
                },
                State::Data => match self.data() {
                    Some(event) => return Ok(event),
                    None => false,
                },
                State::PartEnding => {
                    self.state = State::AfterBoundary;
                    return Ok(Event::PartEnd);
                }
                State::Done => return Ok(Event::End),
            };
            if !progressed {
                return Ok(Event::NeedMore);
            }
        }
    }

    /// Moves the fed input into `held`; false when there was none.
    fn gather(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        self.held.extend_from_slice(&self.input);
        self.input.clear();
        true
    }

    /// Skips to the first boundary; true when it moved on.
    fn preamble(&mut self) -> Result<bool, Malformed> {
        if let Some(at) = self.finder.find(&self.held) {
            self.held.advance(at + self.delimiter.len());
            self.state = State::AfterBoundary;
            return Ok(true);
        }
        // Only the last bytes can still begin a boundary.
        let keep = self.delimiter.len() - 1;
        if self.held.len() > keep {
            let dropped = self.held.len() - keep;
            self.preamble += dropped;
            self.held.advance(dropped);
        }
        if self.preamble > MAX_PREAMBLE {
            return Err(Malformed::TooLarge(format!(
                "no boundary in the body's first {} KiB",
                MAX_PREAMBLE / 1024
            )));
        }
        Ok(self.gather())
    }

    fn after_boundary(&mut self) -> Result<bool, Malformed> {
        if self.held.starts_with(b"--") {
            self.state = State::Done;
            self.held.clear();
            self.input.clear();
            return Ok(true);
        }
        let padding = self
            .held
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = &self.held[padding..];
        if rest.starts_with(b"\r\n") {
            self.held.advance(padding + 2);
            self.state = State::Headers;
            return Ok(true);
        }
        let undecided = rest.is_empty() || rest == b"\r" || (rest == b"-" && padding == 0);
        if !undecided {
            return Err(Malformed::Invalid(
                "a boundary is followed by something other than a line end or --".to_owned(),
            ));
        }
        if padding > MAX_PADDING {
            return Err(Malformed::Invalid("a boundary line is too long".to_owned()));
        }
        Ok(self.gather())
    }

    /// A part's header block, once whole.
    fn headers(&mut self) -> Result<Option<HeaderMap>, Malformed> {
        loop {
            // A part with no headers has its blank line at once.
            let end = match self.held.starts_with(b"\r\n") {
                true => Some(0),
                false => memchr::memmem::find(&self.held, b"\r\n\r\n").map(|at| at + 2),
            };
            if let Some(end) = end {
                if end + 2 > MAX_PART_HEAD {
                    return Err(too_long_head());
                }
                let block = self.held.split_to(end + 2);
                let headers = parse_headers(&block)?;
                self.state = State::Data;
                return Ok(Some(headers));
            }
            if self.held.len() > MAX_PART_HEAD {
                return Err(too_long_head());
            }
            if !self.gather() {
                return Ok(None);
            }
        }
    }

    /// The next piece of a part's data, or None when more is needed.
    fn data(&mut self) -> Option<Event> {
        let len = self.delimiter.len();
        // What is held is older than the input, so it goes first. It is
        // few bytes (a chunk's tail), or the rest of the chunk that held a
        // part's headers.
        if !self.held.is_empty() {
            if let Some(at) = self.finder.find(&self.held) {
                let data = self.held.split_to(at).freeze();
                self.held.advance(len);
                return Some(self.part_ends(data));
            }
            if self.input.len() < len - 1 {
                if self.input.is_empty() {
                    let keep = (len - 1).min(self.held.len());
                    let out = self.held.split_to(self.held.len() - keep).freeze();
                    return (!out.is_empty()).then_some(Event::Data(out));
                }
                // Too little to decide with: gathered, and looked at again.
                self.gather();
                return self.data();
            }
            // A delimiter beginning in the held bytes and ending in the
            // input is found in the seam between them.
            let tail = (len - 1).min(self.held.len());
            let mut seam = self.held[self.held.len() - tail..].to_vec();
            seam.extend_from_slice(&self.input[..len - 1]);
            if let Some(at) = self.finder.find(&seam).filter(|&at| at < tail) {
                let data = self.held.split_to(self.held.len() - tail + at).freeze();
                self.held.clear();
                self.input.advance(at + len - tail);
                return Some(self.part_ends(data));
            }
            let out = self.held.split().freeze();
            return Some(Event::Data(out));
        }
        if self.input.is_empty() {
            return None;
        }
        if let Some(at) = self.finder.find(&self.input) {
            let data = self.input.split_to(at);
            self.input.advance(len);
            return Some(self.part_ends(data));
        }
        // The input's last bytes may begin a delimiter: held back.
        let keep = (len - 1).min(self.input.len());
        let out = self.input.split_to(self.input.len() - keep);
        self.gather();
        (!out.is_empty()).then_some(Event::Data(out))
    }

    /// The part's last data (then its end, on the next call), or its end.
    fn part_ends(&mut self, data: Bytes) -> Event {
        match data.is_empty() {
            true => {
                self.state = State::AfterBoundary;
                Event::PartEnd
            }
            false => {
                self.state = State::PartEnding;
                Event::Data(data)
            }
        }
    }
}

fn too_long_head() -> Malformed {
    Malformed::TooLarge(format!(
        "a part's headers are over {} KiB",
        MAX_PART_HEAD / 1024
    ))
}

/// A part's header block (its lines and the blank line).
fn parse_headers(block: &[u8]) -> Result<HeaderMap, Malformed> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    let found = match httparse::parse_headers(block, &mut parsed) {
        Ok(httparse::Status::Complete((_, found))) => found,
        Ok(httparse::Status::Partial) => {
            return Err(Malformed::Invalid("a part's headers do not end".to_owned()));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Malformed::TooLarge(format!(
                "a part has more than {MAX_PART_HEADERS} headers"
            )));
        }
        Err(e) => return Err(Malformed::Invalid(format!("a part's headers: {e}"))),
    };
    let mut headers = HeaderMap::new();
    for header in found {
        let name = HeaderName::from_bytes(header.name.as_bytes());
        let value = HeaderValue::from_bytes(header.value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(Malformed::Invalid(
                "a part's header is not a valid header".to_owned(),
            ));
        };
        headers.append(name, value);
    }
    Ok(headers)
}

/// A multipart body, read part by part.
pub struct Multipart<S> {
    body: S,
    parser: Parser,
    /// The current part's data was read to its end (or no part began).
    part_over: bool,
}

impl<S, E> Multipart<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    pub fn new(body: S, boundary: &str) -> Self {
        Multipart {
            body,
            parser: Parser::new(boundary),
            part_over: true,
        }
    }

    /// The next part's headers (the rest of the current part's data is
    /// read and thrown away first); None after the closing boundary.
    pub async fn next_part(&mut self) -> Result<Option<HeaderMap>, Malformed> {
        if !self.part_over {
            let mut rest = self.data();
            while let Some(piece) = rest.next().await {
                piece?;
            }
        }
        loop {
            match self.parser.next_event()? {
                Event::Part(headers) => {
                    self.part_over = false;
                    return Ok(Some(headers));
                }
                Event::End => return Ok(None),
                Event::NeedMore => self.feed().await?,
                // Data of a part nobody asked for: not in this state.
                Event::Data(_) | Event::PartEnd => {}
            }
        }
    }

    /// The current part's data, as a stream.
    pub fn data(&mut self) -> PartData<'_, S> {
        PartData { multipart: self }
    }

    async fn feed(&mut self) -> Result<(), Malformed> {
        match self.body.next().await {
            Some(Ok(chunk)) => {
                self.parser.feed(chunk);
                Ok(())
            }
            Some(Err(e)) => Err(Malformed::Cut(format!("reading the body: {e}"))),
            None => Err(Malformed::Cut(
                "the body ended before its closing boundary".to_owned(),
            )),
        }
    }
}

/// One part's data: a stream of its bytes, ending where the part does.
pub struct PartData<'a, S> {
    multipart: &'a mut Multipart<S>,
}

impl<S, E> Stream for PartData<'_, S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    type Item = Result<Bytes, Malformed>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let multipart = &mut *self.get_mut().multipart;
        if multipart.part_over {
            return Poll::Ready(None);
        }
        loop {
            match multipart.parser.next_event() {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Event::Data(bytes)) => return Poll::Ready(Some(Ok(bytes))),
                Ok(Event::NeedMore) => {}
                Ok(Event::PartEnd | Event::Part(_) | Event::End) => {
                    multipart.part_over = true;
                    return Poll::Ready(None);
                }
            }
            match multipart.body.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => multipart.parser.feed(chunk),
                Poll::Ready(Some(Err(e))) => {
                    let why = format!("reading the body: {e}");
                    return Poll::Ready(Some(Err(Malformed::Cut(why))));
                }
                Poll::Ready(None) => {
                    let why = "the body ended inside a part".to_owned();
                    return Poll::Ready(Some(Err(Malformed::Cut(why))));
                }
            }
        }
    }
}

/// The boundary of a `multipart/form-data` type (RFC 2046: 1 to 70
/// characters); None for any other type.
pub fn boundary(content_type: &str) -> Option<String> {
    let params = split_params(content_type);
    let essence = params.first()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.iter().skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| unquote(value.trim()))
    })?;
    let valid = (1..=70).contains(&boundary.len())
        && boundary.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    valid.then_some(boundary)
}

/// A part's file name from its `Content-Disposition`: `filename*` (RFC
/// 8187: UTF-8, ISO-8859-1 or US-ASCII, percent-encoded) over `filename`,
/// the latter used when the former does not parse. A part that names a
/// file in either form carries a file, even when neither name can be read
/// (its name is then empty, and the caller gives it one): a file is never
/// taken for a form field. None for a form field.
pub fn file_name(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_DISPOSITION)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let (mut extended, mut plain, mut named) = (None, None, false);
    for param in split_params(&text).into_iter().skip(1) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                named = true;
                extended = extended.or_else(|| decode_extended(value.trim()));
            }
            "filename" => {
                named = true;
                plain = plain.or_else(|| Some(unquote(value.trim())));
            }
            _ => {}
        }
    }
    named.then(|| extended.or(plain).unwrap_or_default())
}

/// `charset'language'percent-encoded` (RFC 8187), decoded; None for a
/// charset other than the three every recipient reads, or bytes that are
/// not of their charset.
fn decode_extended(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    match charset.to_ascii_lowercase().as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "latin1" | "iso_8859-1" => Some(bytes.iter().map(|&b| b as char).collect()),
        "us-ascii" => bytes
            .is_ascii()
            .then(|| bytes.iter().map(|&b| b as char).collect()),
        _ => None,
    }
}

/// Splits `form-data; name="a;b"; filename="x"` at the semicolons outside
/// quotes.
fn split_params(text: &str) -> Vec<&str> {
    let (mut params, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                params.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    params.push(&text[start..]);
    params
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `body` fed in pieces cut at `cuts`, with adjacent
    /// data joined (how it is cut into pieces is the parser's business).
    fn events(body: &[u8], cuts: &[usize]) -> Result<Vec<Event>, Malformed> {
        let mut parser = Parser::new("XyZ");
        let mut pieces = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            pieces.push(Bytes::copy_from_slice(&body[last..cut]));
            last = cut;
        }
        let mut pieces = pieces.into_iter();
        let mut out: Vec<Event> = Vec::new();
        loop {
            match parser.next_event()? {
                Event::NeedMore => match pieces.next() {
                    Some(piece) => parser.feed(piece),
                    None => return Err(Malformed::Cut("ended".into())),
                },
                Event::End => return Ok(out),
                Event::Data(bytes) => match out.last_mut() {
                    Some(Event::Data(before)) => {
                        *before = [before.as_ref(), bytes.as_ref()].concat().into();
                    }
                    _ => out.push(Event::Data(bytes)),
                },
                event => out.push(event),
            }
        }
    }

    fn disposition(name: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-disposition", name.parse().unwrap());
        headers
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--X not yet\r\n--XyZ  \r\n\r\n\r\n\r\n--XyZ--\r\nepilogue";

    #[test]
    fn every_cut_of_a_body_gives_the_same_parts() {
        let whole = events(BODY, &[]).unwrap();
        assert_eq!(whole.len(), 6, "{whole:?}");
        let Event::Part(headers) = &whole[0] else {
            panic!("{whole:?}")
        };
        assert_eq!(file_name(headers).as_deref(), Some("a.txt"));
        assert_eq!(
            whole[1],
            Event::Data(Bytes::from_static(b"hello\r\n--X not yet"))
        );
        assert_eq!(whole[2], Event::PartEnd);
        assert_eq!(whole[3], Event::Part(HeaderMap::new()));
        assert_eq!(whole[4], Event::Data(Bytes::from_static(b"\r\n")));
        assert_eq!(whole[5], Event::PartEnd);
        for a in 0..BODY.len() {
            assert_eq!(events(BODY, &[a]).unwrap(), whole, "cut at {a}");
            for b in (a..BODY.len()).step_by(7) {
                assert_eq!(events(BODY, &[a, b]).unwrap(), whole, "cut at {a}, {b}");
            }
        }
        let bytewise: Vec<usize> = (1..BODY.len()).collect();
        assert_eq!(events(BODY, &bytewise).unwrap(), whole);
    }

    #[test]
    fn a_body_may_open_with_its_boundary() {
        let body = b"--XyZ\r\n\r\nx\r\n--XyZ--";
        let found = events(body, &[]).unwrap();
        assert_eq!(found[1], Event::Data(Bytes::from_static(b"x")));
    }

    #[test]
    fn what_comes_before_a_part_is_bounded() {
        let no_boundary = vec![b'a'; MAX_PREAMBLE + 100];
        assert!(matches!(
            events(&no_boundary, &[10, 5000]),
            Err(Malformed::TooLarge(_))
        ));
        let mut long_head = b"--XyZ\r\nX-Long: ".to_vec();
        long_head.extend(vec![b'a'; MAX_PART_HEAD]);
        assert!(matches!(
            events(&long_head, &[100]),
            Err(Malformed::TooLarge(_))
        ));
        let mut many = b"--XyZ\r\n".to_vec();
        for i in 0..=MAX_PART_HEADERS {
            many.extend(format!("X-{i}: 1\r\n").bytes());
        }
        many.extend(b"\r\nx\r\n--XyZ--");
        assert!(matches!(events(&many, &[]), Err(Malformed::TooLarge(_))));
        assert!(matches!(
            events(b"--XyZ junk\r\n\r\n", &[]),
            Err(Malformed::Invalid(_))
        ));
        assert!(matches!(
            events(b"--XyZ\r\nBad Header\r\n\r\n", &[]),
            Err(Malformed::Invalid(_))
        ));
    }

    #[test]
    fn boundaries_of_form_data_only() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----x1").as_deref(),
            Some("----x1")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }

    #[test]
    fn file_names_in_every_form_a_client_sends() {
        let name = |d: &str| file_name(&disposition(d));
        assert_eq!(name("form-data; name=\"f\"").as_deref(), None);
        assert_eq!(
            name("form-data; name=\"f\"; filename=\"a;b.jpg\"").as_deref(),
            Some("a;b.jpg")
        );
        assert_eq!(
            name("form-data; filename=\"x.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(
            name("form-data; filename*=iso-8859-1''r%E9sum%E9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        // Unparsable extended names fall back, and never drop the file.
        assert_eq!(
            name("form-data; name=\"file\"; filename=\"photo.jpg\"; filename*=garbage").as_deref(),
            Some("photo.jpg")
        );
        assert_eq!(
            name("form-data; filename*=UTF-8''%FF%FE.jpg; filename=\"p.jpg\"").as_deref(),
            Some("p.jpg")
        );
        assert_eq!(
            name("form-data; filename*=koi8-r''%C1.txt").as_deref(),
            Some("")
        );
        assert_eq!(
            name("form-data; name=\"filename\"").as_deref(),
            None,
            "a field called filename is not a file"
        );
    }
}
