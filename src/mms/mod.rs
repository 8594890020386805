//! Phone backups as a source of inputs: every attachment in SMS Backup &
//! Restore backups, each through the engine's one pass as a file is.
//!
//! A backup is read once, front to back, by a scanner that keeps only the
//! current message's few identifying attributes; each `data` value streams
//! through a base64 decoder into the pass while the XML is still being read.
//! An attachment is queued only once its `<part>` tag has closed, so a cut
//! inside one stores nothing of it.

mod backup;
pub mod base64;
pub mod xml;

use std::ffi::{OsStr, OsString};
use std::io::BufRead;

use anyhow::anyhow;

use crate::engine::{Described, Ingest, Stopped, Streamed};
use crate::events::Events;
use crate::failure::Failure;
use crate::manifest::Origin;
use crate::sniff::{self, Kind};
use crate::store::Backend;

use self::base64::Base64Reader;
use self::xml::{Event, Scanner, ValueMode, XmlError};

/// Attribute values kept (names, types, addresses) are cut off here; longer
/// ones are skipped unread into memory.
const KEPT_VALUE_MAX: usize = 64 * 1024;

/// Extracts every attachment of `backups` (`-` for standard input) into
/// the engine's batches; `text` stores text parts too. A damaged backup
/// fails on its own (what came before the damage is stored); a store that
/// cannot take more stops the run.
pub fn extract_all<B: Backend, E: Events>(
    job: &mut Ingest<B, E>,
    backups: &[OsString],
    text: bool,
) -> Result<(), Stopped> {
    for given in backups {
        match extract(job, given, text) {
            Ok(()) => {}
            Err(Stop::Store) => return Err(Stopped),
            Err(Stop::Backup(error)) => {
                // What was complete before the damage is stored.
                job.flush()?;
                job.events.failed(given, &Failure::Input(error));
            }
        }
    }
    job.flush()
}

/// Why a backup's extraction stopped early.
enum Stop {
    /// The backup cannot be read further; other backups still run.
    Backup(anyhow::Error),
    /// The store cannot take more: the run stops.
    Store,
}

impl From<XmlError> for Stop {
    fn from(e: XmlError) -> Self {
        Stop::Backup(e.into())
    }
}

impl From<Stopped> for Stop {
    fn from(_: Stopped) -> Self {
        Stop::Store
    }
}

/// Extracts one backup's attachments into the job's batch.
fn extract<B: Backend, E: Events>(
    job: &mut Ingest<B, E>,
    given: &OsStr,
    text: bool,
) -> Result<(), Stop> {
    let opened = backup::open(given, |size| job.events.reading(given, size));
    let backup = opened.map_err(Stop::Backup)?;
    let mut scanner = Scanner::new(backup.xml);
    let root = match scanner.next_event()? {
        Event::Start { name, .. } => name,
        _ => return Err(Stop::Backup(anyhow!("holds no XML element: not a backup"))),
    };
    match root.as_str() {
        "smses" => {}
        "calls" => {
            job.events
                .note(given, "a call log backup: no attachments to store");
            return Ok(());
        }
        other => {
            return Err(Stop::Backup(anyhow!(
                "not an SMS Backup & Restore message backup: its root is <{other}>, not <smses>"
            )));
        }
    }
    let mut walk = Walk {
        backup: given,
        source: &backup.source,
        text,
        message: None,
        part_index: 0,
    };
    loop {
        match scanner.next_event()? {
            Event::Start { name, offset } => match (name.as_str(), scanner.depth()) {
                ("mms", 2) => walk.message = Some(Message::read(&mut scanner)?),
                ("parts", 3) => walk.part_index = 0,
                ("part", 4) if walk.message.is_some() => {
                    walk.part(job, &mut scanner, offset)?;
                    walk.part_index += 1;
                }
                _ => {}
            },
            Event::End { name } if name == "mms" => walk.message = None,
            Event::End { .. } => {}
            Event::Eof => return Ok(()),
        }
    }
}

/// Where the scan is within one backup.
struct Walk<'a> {
    backup: &'a OsStr,
    source: &'a OsStr,
    text: bool,
    message: Option<Message>,
    part_index: u64,
}

/// The attributes of the current `<mms>` that identify its parts.
#[derive(Debug, Default)]
struct Message {
    date: Option<i64>,
    address: Option<String>,
    msg_box: Option<i64>,
    m_id: Option<String>,
}

impl Message {
    fn read<R: BufRead>(scanner: &mut Scanner<R>) -> Result<Message, XmlError> {
        let mut message = Message::default();
        while let Some(attr) = scanner.attribute()? {
            let slot = match attr.as_str() {
                "date" | "address" | "msg_box" | "m_id" => attr,
                _ => {
                    scanner.skip_value()?;
                    continue;
                }
            };
            let value = present(scanner.value_text(KEPT_VALUE_MAX)?);
            match slot.as_str() {
                "date" => message.date = value.and_then(|v| v.trim().parse().ok()),
                "address" => message.address = value,
                "msg_box" => message.msg_box = value.and_then(|v| v.trim().parse().ok()),
                _ => message.m_id = value,
            }
        }
        Ok(message)
    }
}

/// The attributes of a `<part>` that name and type it.
#[derive(Debug, Default)]
struct Part {
    ct: Option<String>,
    seq: Option<String>,
    name: Option<String>,
    fn_: Option<String>,
    cl: Option<String>,
    cid: Option<String>,
}

impl Part {
    /// Keeps `attr` if it is one of ours; false if the caller must skip it.
    fn keep<R: BufRead>(&mut self, attr: &str, scanner: &mut Scanner<R>) -> Result<bool, XmlError> {
        let slot = match attr {
            "ct" => &mut self.ct,
            "seq" => &mut self.seq,
            "name" => &mut self.name,
            "fn" => &mut self.fn_,
            "cl" => &mut self.cl,
            "cid" => &mut self.cid,
            _ => return Ok(false),
        };
        *slot = scanner.value_text(KEPT_VALUE_MAX)?;
        Ok(true)
    }

    /// The declared type, lower-cased and without parameters.
    fn declared(&self) -> Option<String> {
        let ct = present(self.ct.clone())?;
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        (!mime.is_empty()).then_some(mime)
    }

    fn is_smil(&self) -> bool {
        self.declared().as_deref() == Some("application/smil")
    }

    /// The first of name, fn, cl and cid that says something, made one safe
    /// file name.
    fn given_name(&self) -> Option<String> {
        [&self.name, &self.fn_, &self.cl, &self.cid]
            .into_iter()
            .filter_map(|v| present(v.clone()))
            .map(|v| safe_name(v.trim_start_matches('<').trim_end_matches('>')))
            .find(|v| !v.is_empty() && v != "." && v != "..")
    }

    /// The type to judge while streaming when the bytes show none, if it is
    /// known yet (a `data` value can come before ct and the name).
    fn hint(&self) -> Option<Kind> {
        let declared = self.declared();
        let name = self.given_name();
        if declared.is_none() && name.is_none() {
            return None;
        }
        Some(crate::engine::fallback_kind(
            OsStr::new(name.as_deref().unwrap_or("")),
            declared.as_deref(),
        ))
    }
}

/// A streamed value of a part: its data, or (with --text) its text.
type Value<S> = Option<Result<Streamed<S>, Failure>>;

impl Walk<'_> {
    /// Reads one `<part>` tag, streaming its data (or text) on the way, and
    /// queues the attachment once the tag is complete.
    fn part<B: Backend, E: Events, R: BufRead>(
        &mut self,
        job: &mut Ingest<B, E>,
        scanner: &mut Scanner<R>,
        offset: u64,
    ) -> Result<(), Stop> {
        let label = self.label(offset);
        let mut part = Part::default();
        let mut data: Value<B::Staged> = None;
        let mut text: Value<B::Staged> = None;
        // `data=""`: an attachment the app wrote without its bytes.
        let mut empty_data = false;
        while let Some(attr) = scanner.attribute()? {
            if part.keep(&attr, scanner)? {
                continue;
            }
            let wanted = match attr.as_str() {
                "data" => true,
                // A SMIL part (application/smil) is not text/*.
                "text" => self.text && part.declared().is_none_or(|ct| ct.starts_with("text/")),
                _ => false,
            };
            if wanted && attr == "data" && scanner.value_is_empty()? {
                empty_data = true;
            }
            if !wanted || scanner.value_is_empty()? || scanner.value_is_null()? {
                scanner.skip_value()?;
                continue;
            }
            let streamed = if attr == "data" {
                let mut reader = Base64Reader::new(scanner.value_reader(ValueMode::Base64));
                job.stream(&label, &mut reader, None, part.hint())
            } else {
                let mut reader = scanner.value_reader(ValueMode::Text);
                job.stream(&label, &mut reader, None, part.hint())
            };
            if let Some(damage) = scanner.take_damage() {
                // The backup broke inside the value: nothing of it is kept.
                return Err(damage.into());
            }
            scanner.skip_value()?;
            let streamed = streamed.map_err(|failure| match failure {
                Failure::Input(e) => {
                    Failure::Input(e.context(format!("bad data in part at byte {offset}")))
                }
                other => other,
            });
            match attr.as_str() {
                "data" => data = Some(streamed),
                _ => text = Some(streamed),
            }
        }
        // The tag is complete: what it streamed may now be queued.
        let (value, is_text) = match (data, text) {
            (Some(data), _) => (data, false),
            (None, Some(text)) if !part.is_smil() => (text, true),
            _ => {
                if empty_data {
                    let what = "its data is empty: the backup holds no bytes of this attachment, nothing stored";
                    job.events.warning(&label, what);
                }
                return Ok(());
            }
        };
        let streamed = match value {
            Ok(streamed) => streamed,
            Err(failure) => return job.fail(&label, failure).map_err(Stop::from),
        };
        if streamed.size() == 0 {
            return Ok(());
        }
        let described = self.describe(&part, &streamed, offset, is_text);
        let shown = described.name.clone();
        job.admit(&shown, streamed, described)?;
        Ok(())
    }

    /// What a part's failures are reported as: the backup and the offset.
    fn label(&self, offset: u64) -> OsString {
        let mut label = self.backup.to_owned();
        label.push(format!(": part at byte {offset}"));
        label
    }

    fn describe<S>(
        &self,
        part: &Part,
        streamed: &Streamed<S>,
        offset: u64,
        is_text: bool,
    ) -> Described {
        let message = self.message.as_ref();
        let declared = match is_text {
            true => part.declared().or_else(|| Some("text/plain".to_owned())),
            false => part.declared(),
        };
        let name = part.given_name().unwrap_or_else(|| {
            let ext = match (streamed.sniffed(), &declared) {
                (Some(kind), _) if !kind.ext.is_empty() => kind.ext.clone(),
                (_, Some(mime)) if is_text && mime.starts_with("text/plain") => "txt".to_owned(),
                (_, Some(mime)) => sniff::ext_for_mime(mime).unwrap_or_else(|| "bin".to_owned()),
                _ => "bin".to_owned(),
            };
            let date = message.and_then(|m| m.date).unwrap_or(0);
            format!("mms-{date}-{}.{ext}", self.part_index)
        });
        let path = conversation_path(message, &name);
        Described {
            name: OsString::from(name),
            source: self.source.to_owned(),
            declared_mime: declared,
            origin: Some(Origin {
                kind: "mms".to_owned(),
                backup: Some(self.source.to_string_lossy().into_owned()),
                offset: Some(offset),
                date: message.and_then(|m| m.date),
                address: message.and_then(|m| m.address.clone()),
                msg_box: message.and_then(|m| m.msg_box),
                m_id: message.and_then(|m| m.m_id.clone()),
                part: Some(self.part_index),
                seq: part.seq.clone(),
                ct: part.ct.clone(),
                ..Origin::default()
            }),
            expected: None,
            path: Some(path),
        }
    }
}

/// Where an attachment stands in a restored tree: by conversation, then
/// by the message's time (`mms/+15555550000/2014-11-02T13-15-28_duck.png`),
/// so a phone's attachments come back as a folder per contact.
fn conversation_path(message: Option<&Message>, name: &str) -> OsString {
    let who: String = message
        .and_then(|m| m.address.as_deref())
        .unwrap_or("unknown")
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let when = message
        .and_then(|m| m.date)
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|at| at.strftime("%Y-%m-%dT%H-%M-%S_").to_string())
        .unwrap_or_default();
    OsString::from(format!("mms/{who}/{when}{name}"))
}

/// The value unless the app wrote its "no value" (`null`) or nothing.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty() && v != "null")
}

/// The last path component of `name` (either separator), without control
/// characters: a name from a backup must not climb out of an export folder.
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_folders_and_control_characters() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\a\\IMG_1.jpg"), "IMG_1.jpg");
        assert_eq!(safe_name("a\u{7}b\n.png"), "ab.png");
    }

    #[test]
    fn the_first_meaningful_name_wins() {
        let part = Part {
            name: Some("null".into()),
            fn_: Some(String::new()),
            cl: Some("duck.png".into()),
            cid: Some("<x>".into()),
            ..Part::default()
        };
        assert_eq!(part.given_name().as_deref(), Some("duck.png"));
        let cid_only = Part {
            cid: Some("<image001>".into()),
            ..Part::default()
        };
        assert_eq!(cid_only.given_name().as_deref(), Some("image001"));
    }
}
