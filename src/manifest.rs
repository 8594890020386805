//! The manifest: one JSON object per line, appended, never rewritten.
//!
//! Readers must survive what crashes and other versions leave behind: a torn
//! last line, a line of garbage, fields they do not know. So reading yields
//! [`Line`]s, and only complete, parseable lines become entries.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::hashing::Sha256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::object_id::ObjectId;

/// One manifest line: an input that was stored, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: ObjectId,
    pub size: u64,
    pub mime: String,
    pub ext: String,
    /// The name as UTF-8; bytes that are not UTF-8 show as U+FFFD here and
    /// are kept exactly in `name_b64`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_b64: Option<String>,
    /// The absolute path read, or `-` for standard input; raw bytes as for `name`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_b64: Option<String>,
    /// Where it stood in the tree it came from, `/`-separated, the folder
    /// named on the command line first (`Photos/2019/IMG_0001.jpg`): what
    /// `export --tree` rebuilds. Absent in lines of older versions (then
    /// the name stands for it); raw bytes as for `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    pub ingested_at: String,
    /// True when the run that wrote this line also wrote the object.
    pub new: bool,
    /// The type the source declared (`--content-type`), kept when the bytes
    /// say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_mime: Option<String>,
    /// Whether clamd scanned it and said OK; absent when no scanner was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned: Option<bool>,
    /// Where inside a larger source the input was found (an MMS part in a
    /// backup); absent for files and standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where an attachment was found inside a phone backup.
/// Where an input came from besides a file: an attachment inside a phone
/// backup (`"mms"`), or an upload to `ingest serve` (`"http"`). Each kind
/// fills its own fields; the others stay absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Origin {
    /// `"mms"` or `"http"`.
    pub kind: String,
    /// The backup's absolute path, or `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The `<part>` tag's byte offset in the (decompressed) XML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The message's time, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_box: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m_id: Option<String>,
    /// The part's 0-based index within its message's `<parts>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
    /// The part's declared content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct: Option<String>,
    /// The uploading client's address (`http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// The name of the token the upload was made with (`http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The client's `User-Agent` (`http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Entry {
    /// An entry for content stored under `name` from `source`; the optional
    /// fields empty, `new` false until the object is published.
    pub fn new(
        sha256: ObjectId,
        size: u64,
        kind: crate::sniff::Kind,
        name: &OsStr,
        source: &OsStr,
        ingested_at: String,
    ) -> Entry {
        let mut entry = Entry {
            sha256,
            size,
            mime: kind.mime,
            ext: kind.ext,
            name: String::new(),
            name_b64: None,
            source: String::new(),
            source_b64: None,
            path: None,
            path_b64: None,
            ingested_at,
            new: false,
            declared_mime: None,
            scanned: None,
            origin: None,
        };
        entry.set_name(name);
        entry.set_source(source);
        entry
    }

    /// Sets `name` (and `name_b64` when the bytes are not UTF-8).
    pub fn set_name(&mut self, name: &OsStr) {
        (self.name, self.name_b64) = text_and_raw(name);
    }

    /// Sets `source` (and `source_b64` when the bytes are not UTF-8).
    pub fn set_source(&mut self, source: &OsStr) {
        (self.source, self.source_b64) = text_and_raw(source);
    }

    /// Sets `path` (and `path_b64` when the bytes are not UTF-8).
    pub fn set_path(&mut self, path: &OsStr) {
        let (text, raw) = text_and_raw(path);
        (self.path, self.path_b64) = (Some(text), raw);
    }

    /// The exact bytes of the recorded path. A line of an older version
    /// records none: a file's then comes from its absolute source (its
    /// leading `/` dropped, `home/me/Photos/2019/IMG.jpg`), anything else's
    /// is its name.
    pub fn path_bytes(&self) -> OsString {
        if let Some(path) = &self.path {
            return raw_or_text(path, self.path_b64.as_deref());
        }
        let source = self.source_bytes();
        match source.as_encoded_bytes().strip_prefix(b"/") {
            Some(below_root) if self.origin.is_none() && !below_root.is_empty() => {
                <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(below_root).to_owned()
            }
            _ => self.name_bytes(),
        }
    }

    /// The exact bytes of the name, whatever the encoding.
    pub fn name_bytes(&self) -> OsString {
        raw_or_text(&self.name, self.name_b64.as_deref())
    }

    /// The exact bytes of the source, whatever the encoding.
    pub fn source_bytes(&self) -> OsString {
        raw_or_text(&self.source, self.source_b64.as_deref())
    }

    /// What makes two lines the same record. A line is appended only when
    /// its identity is new, so running the same command twice records
    /// nothing the second time. For a file: the content, the name and the
    /// source. For an MMS attachment: the content, the message (date and
    /// address) and the part's index, whatever the backup is called, so a
    /// later full backup adds only the new messages.
    pub fn identity(&self) -> Identity {
        let origin = self.origin.as_ref().and_then(|o| {
            o.part.map(|part| OriginKey {
                date: o.date,
                address: o.address.as_deref(),
                part,
            })
        });
        identity_of(
            &self.sha256,
            &self.name_bytes(),
            &self.source_bytes(),
            origin,
        )
    }

    /// The line as written to the manifest, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        crate::jsonl::to_line(self)
    }
}

/// What of an MMS origin makes its identity (an upload's identity is a
/// file's: content, name and source).
struct OriginKey<'a> {
    date: Option<i64>,
    address: Option<&'a str>,
    part: u64,
}

/// The one definition of an identity, for [`Entry::identity`] and for
/// [`LineIdentity`], which must agree byte for byte.
fn identity_of(
    sha256: &ObjectId,
    name: &OsStr,
    source: &OsStr,
    origin: Option<OriginKey>,
) -> Identity {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    match origin {
        None => {
            h.update(b"file\0");
            h.update(sha256.as_bytes());
            field(&mut h, name.as_bytes());
            field(&mut h, source.as_bytes());
        }
        Some(origin) => {
            h.update(b"mms\0");
            h.update(sha256.as_bytes());
            let date = origin.date.map(|d| d.to_string()).unwrap_or_default();
            field(&mut h, date.as_bytes());
            field(&mut h, origin.address.unwrap_or("").as_bytes());
            field(&mut h, &origin.part.to_le_bytes());
        }
    }
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    Identity(key)
}

/// A manifest line read for its identity alone, without building its
/// entry: what a writer needs of every line of the manifest, at a fraction
/// of the cost (strings are borrowed from the line, not allocated). It
/// takes exactly the lines an [`Entry`] takes: every field is checked for
/// its type, so a line unreadable as an entry is unreadable here too.
pub struct LineIdentity(pub Identity);

impl<'de> Deserialize<'de> for LineIdentity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use std::borrow::Cow;
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct View<'a> {
            sha256: ObjectId,
            size: u64,
            #[serde(borrow)]
            mime: Cow<'a, str>,
            #[serde(borrow)]
            ext: Cow<'a, str>,
            #[serde(borrow)]
            name: Cow<'a, str>,
            #[serde(default, borrow)]
            name_b64: Option<Cow<'a, str>>,
            #[serde(borrow)]
            source: Cow<'a, str>,
            #[serde(default, borrow)]
            source_b64: Option<Cow<'a, str>>,
            #[serde(borrow)]
            ingested_at: Cow<'a, str>,
            new: bool,
            #[serde(default, borrow)]
            declared_mime: Option<Cow<'a, str>>,
            #[serde(default)]
            scanned: Option<bool>,
            #[serde(default, borrow)]
            origin: Option<OriginView<'a>>,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct OriginView<'a> {
            #[serde(borrow)]
            kind: Cow<'a, str>,
            #[serde(default, borrow)]
            backup: Option<Cow<'a, str>>,
            #[serde(default)]
            offset: Option<u64>,
            #[serde(default)]
            date: Option<i64>,
            #[serde(default, borrow)]
            address: Option<Cow<'a, str>>,
            #[serde(default)]
            msg_box: Option<i64>,
            #[serde(default, borrow)]
            m_id: Option<Cow<'a, str>>,
            #[serde(default)]
            part: Option<u64>,
            #[serde(default, borrow)]
            seq: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            ct: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            remote: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            token: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            user_agent: Option<Cow<'a, str>>,
        }
        let view = View::deserialize(deserializer)?;
        let name = raw_or_text(&view.name, view.name_b64.as_deref());
        let source = raw_or_text(&view.source, view.source_b64.as_deref());
        let origin = view.origin.as_ref().and_then(|o| {
            o.part.map(|part| OriginKey {
                date: o.date,
                address: o.address.as_deref(),
                part,
            })
        });
        Ok(LineIdentity(identity_of(
            &view.sha256,
            &name,
            &source,
            origin,
        )))
    }
}

pub(crate) fn text_and_raw(value: &OsStr) -> (String, Option<String>) {
    match value.to_str() {
        Some(text) => (text.to_owned(), None),
        None => (
            value.to_string_lossy().into_owned(),
            Some(BASE64.encode(value.as_bytes())),
        ),
    }
}

/// The exact bytes behind a text field and its `_b64` twin.
pub(crate) fn raw_or_text(text: &str, raw: Option<&str>) -> OsString {
    raw.and_then(|b64| BASE64.decode(b64).ok())
        .map(OsString::from_vec)
        .unwrap_or_else(|| OsString::from(text))
}

/// A 128-bit digest of an entry's identity: small enough to keep one per
/// manifest line in memory, wide enough that two identities never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity([u8; 16]);

impl Identity {
    /// The digest's bytes (the catalog's key).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The identity these bytes are (an entry id read back).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Identity(bytes)
    }
}

/// The identities of the lines read so far, to skip appending one twice.
#[derive(Debug, Default)]
pub struct IdentitySet(HashSet<Identity, BuildHasherDefault<IdentityHasher>>);

/// An identity is already a uniform digest: its first eight bytes are a
/// hash as good as any, and rehashing them (SipHash) cost an unchanged
/// nightly re-run a few percent of its time.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
}

/// Adds to `known` the identities of the lines of `file` from byte `from`
/// on, in constant memory but for the set; returns the offset just after
/// its last whole line. How a manifest is known without a catalog.
pub fn read_identities(
    file: &std::fs::File,
    from: u64,
    known: &mut IdentitySet,
) -> std::io::Result<u64> {
    use std::io::{BufReader, Seek, SeekFrom};
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    reader.seek(SeekFrom::Start(from))?;
    let mut lines = crate::jsonl::Lines::<_, LineIdentity>::new(reader, from);
    for line in lines.by_ref() {
        if let crate::jsonl::Line::Value(LineIdentity(identity)) = line? {
            known.insert(identity);
        }
    }
    Ok(lines.offset())
}

impl IdentitySet {
    pub fn contains(&self, id: &Identity) -> bool {
        self.0.contains(id)
    }

    /// Adds an identity; false when it was there already.
    pub fn insert(&mut self, id: Identity) -> bool {
        self.0.insert(id)
    }

    /// Forgets an identity (its line was not written after all).
    pub fn remove(&mut self, id: &Identity) {
        self.0.remove(id);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One line of a manifest, read.
pub type Line = crate::jsonl::Line<Entry>;

/// The entry a torn last line holds, when the line is whole and lost only
/// its newline: it names its object as any line does.
pub fn torn_entry(text: &[u8]) -> Option<Entry> {
    serde_json::from_slice(text).ok()
}

/// Reads manifest lines in constant memory.
pub type Lines<R> = crate::jsonl::Lines<R, Entry>;

/// A bound on the manifest's dates (`ingested_at`) as a person or a client
/// writes one: an RFC 3339 time in any offset, or a prefix of one that ends
/// at a field (2026, 2026-11, 2026-11-01, 2026-11-01T12, 2026-11-01T12:30),
/// taken as the first moment it names, in UTC.
pub fn parse_date_bound(text: &str) -> Result<jiff::Timestamp, String> {
    const FIRST: &str = "0000-01-01T00:00:00Z";
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let field_ends = [4, 7, 10, 13, 16].contains(&text.len());
    let shaped = text.bytes().zip(FIRST.bytes()).all(|(given, first)| {
        if first.is_ascii_digit() {
            given.is_ascii_digit()
        } else {
            given.eq_ignore_ascii_case(&first)
        }
    });
    let whole = format!("{text}{}", FIRST.get(text.len()..).unwrap_or(""));
    match whole.parse::<jiff::Timestamp>() {
        Ok(at) if field_ends && shaped => Ok(at),
        _ => Err(format!(
            "{text:?} is not a date or time (2026, 2026-11, 2026-11-01, 2026-11-01T12:30 or an RFC 3339 time)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_bounds_are_times_or_prefixes_ending_at_a_field() {
        let bound = |text: &str| parse_date_bound(text).map(|at| at.to_string());
        assert_eq!(bound("2026").unwrap(), "2026-01-01T00:00:00Z");
        assert_eq!(bound("2026-11").unwrap(), "2026-11-01T00:00:00Z");
        assert_eq!(bound("2026-11-05").unwrap(), "2026-11-05T00:00:00Z");
        assert_eq!(bound("2026-11-05T12").unwrap(), "2026-11-05T12:00:00Z");
        assert_eq!(bound("2026-11-05T12:30").unwrap(), "2026-11-05T12:30:00Z");
        assert_eq!(
            bound("2026-11-05T12:30:00+02:00").unwrap(),
            "2026-11-05T10:30:00Z"
        );
        for bad in [
            "yesterday",
            "2026-1",
            "2026-13",
            "2026/11/05",
            "",
            "20261105",
        ] {
            let why = bound(bad).unwrap_err();
            assert!(why.contains("is not a date"), "{bad}: {why}");
        }
    }

    fn entry(name: &OsStr) -> Entry {
        let kind = crate::sniff::Kind {
            mime: "text/plain".into(),
            ext: "txt".into(),
        };
        let at = "2026-01-01T00:00:00Z".to_owned();
        Entry::new(
            ObjectId::from_bytes([7; 32]),
            3,
            kind,
            name,
            OsStr::new("/tmp/a"),
            at,
        )
    }

    #[test]
    fn non_utf8_names_survive_a_round_trip() {
        let name = OsStr::from_bytes(b"caf\xe9\n.txt");
        let e = entry(name);
        assert_eq!(e.name, "caf\u{fffd}\n.txt");
        let line = e.to_line();
        let mut lines = Lines::new(&line[..], 0);
        let Some(Ok(Line::Value(back))) = lines.next() else {
            panic!("line did not parse");
        };
        assert_eq!(back.name_bytes(), name);
        assert_eq!(back.identity(), e.identity());
    }

    #[test]
    fn torn_and_garbage_lines_are_reported_not_fatal() {
        let mut text = entry(OsStr::new("a")).to_line();
        text.extend_from_slice(b"not json\n{\"sha256\":\"ab");
        let lines: Vec<Line> = Lines::new(&text[..], 0).map(|l| l.unwrap()).collect();
        assert!(matches!(lines[0], Line::Value(_)));
        assert!(matches!(lines[1], Line::Unreadable { .. }));
        assert!(matches!(lines[2], Line::Torn { .. }));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn identity_depends_on_name_and_source() {
        let a = entry(OsStr::new("a"));
        let b = entry(OsStr::new("b"));
        assert_ne!(a.identity(), b.identity());
        let mut c = a.clone();
        c.ingested_at = "later".into();
        c.new = false;
        assert_eq!(a.identity(), c.identity());
    }

    #[test]
    fn a_line_read_for_its_identity_alone_agrees_with_its_entry() {
        let read = |line: &[u8]| -> Option<Identity> {
            let parsed: Option<LineIdentity> = serde_json::from_slice(line.trim_ascii_end()).ok();
            parsed.map(|l| l.0)
        };
        let plain = entry(OsStr::new("a \"quoted\" name.txt"));
        let raw = entry(OsStr::from_bytes(b"caf\xe9.txt"));
        let mut mms = entry(OsStr::new("photo.jpg"));
        mms.origin = Some(Origin {
            kind: "mms".into(),
            backup: Some("/b.xml".into()),
            offset: Some(10),
            date: Some(1_414_936_528_000),
            address: Some("+15555550000".into()),
            msg_box: Some(2),
            m_id: None,
            part: Some(1),
            seq: Some("0".into()),
            ct: Some("image/jpeg".into()),
            ..Origin::default()
        });
        let mut upload = entry(OsStr::new("upload.jpg"));
        upload.origin = Some(Origin {
            kind: "http".into(),
            remote: Some("127.0.0.1".into()),
            token: Some("phone".into()),
            user_agent: Some("curl/8".into()),
            ..Origin::default()
        });
        for e in [plain, raw, mms, upload] {
            assert_eq!(read(&e.to_line()), Some(e.identity()), "{e:?}");
        }
        // What an entry refuses, the identity reader refuses too.
        let mut value = serde_json::to_value(entry(OsStr::new("a"))).unwrap();
        value.as_object_mut().unwrap().remove("mime");
        let line = serde_json::to_vec(&value).unwrap();
        assert!(serde_json::from_slice::<Entry>(&line).is_err());
        assert_eq!(read(&line), None);
    }
}
