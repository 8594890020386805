//! JSON-lines files that are only ever appended to: the manifest and the
//! files cache. Reading survives what crashes leave (a torn last line) and
//! what other versions write (garbage, unknown fields); appending first cuts
//! a torn tail off, and takes back a write that failed half-way.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A line longer than this is not one of ours (names are at most a few
/// KiB), so a damaged file cannot make a reader's memory grow.
pub const MAX_LINE: usize = 1 << 20;

/// What one line turned out to be.
#[derive(Debug)]
pub enum Line<T> {
    Value(T),
    /// A complete line that does not parse (garbage, or too long).
    Unreadable {
        offset: u64,
        reason: String,
    },
    /// The last line has no newline: a crash cut it short. It may still be
    /// whole, or name what it was about (its first bytes), so its `text`
    /// (at most [`MAX_LINE`] + 1 bytes) is kept for a reader that must not
    /// lose what it may name.
    Torn {
        offset: u64,
        text: Vec<u8>,
    },
}

/// Reads lines from `reader`, which starts at byte `offset` of its file, in
/// constant memory.
pub struct Lines<R, T> {
    reader: R,
    offset: u64,
    buf: Vec<u8>,
    _value: PhantomData<T>,
}

impl<R: BufRead, T: DeserializeOwned> Lines<R, T> {
    pub fn new(reader: R, offset: u64) -> Self {
        Lines {
            reader,
            offset,
            buf: Vec::new(),
            _value: PhantomData,
        }
    }

    /// The byte offset after the last complete line read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next line into `buf`, keeping at most [`MAX_LINE`] + 1
    /// bytes of it. Returns the bytes consumed and whether a newline ended it.
    fn next_raw(&mut self) -> io::Result<(u64, bool)> {
        self.buf.clear();
        let mut consumed = 0u64;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((consumed, false));
            }
            let (taken, complete) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..taken.min(room)]);
            self.reader.consume(taken);
            consumed += taken as u64;
            if complete {
                return Ok((consumed, true));
            }
        }
    }

    fn parse(&self, offset: u64) -> Line<T> {
        if self.buf.len() > MAX_LINE {
            return Line::Unreadable {
                offset,
                reason: format!("line longer than {MAX_LINE} bytes"),
            };
        }
        match serde_json::from_slice::<T>(&self.buf) {
            Ok(value) => Line::Value(value),
            Err(e) => Line::Unreadable {
                offset,
                reason: e.to_string(),
            },
        }
    }
}

impl<R: BufRead, T: DeserializeOwned> Iterator for Lines<R, T> {
    type Item = io::Result<Line<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.offset;
        let (consumed, complete) = match self.next_raw() {
            Ok(read) => read,
            Err(e) => return Some(Err(e)),
        };
        if consumed == 0 {
            return None;
        }
        if !complete {
            let text = std::mem::take(&mut self.buf);
            return Some(Ok(Line::Torn {
                offset: start,
                text,
            }));
        }
        self.offset += consumed;
        Some(Ok(self.parse(start)))
    }
}

/// Whether the file's last line has no newline (a crash cut it short).
pub fn has_torn_tail(file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    Ok(len > 0 && read_byte_at(file, len - 1)? != b'\n')
}

/// Mends a last line that has no newline (a crash mid-append left it), in
/// a file opened with O_APPEND; returns the new length. A line that is a
/// whole JSON object lost only its newline, and gets it back: its object
/// was durable before it was written, and cutting it would lose the
/// record. Anything else is cut off.
pub fn repair_torn_tail(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if !has_torn_tail(file)? {
        return Ok(len);
    }
    let start = last_newline_before(file, len)?.map_or(0, |i| i + 1);
    let repaired = if is_whole_object(file, start, len)? {
        let mut writer = file;
        writer.write_all(b"\n")?;
        len + 1
    } else {
        file.set_len(start)?;
        start
    };
    file.sync_all()?;
    Ok(repaired)
}

/// Whether bytes `start..end` of `file` are one whole JSON object.
fn is_whole_object(file: &File, start: u64, end: u64) -> io::Result<bool> {
    let len = end - start;
    if len > MAX_LINE as u64 {
        return Ok(false);
    }
    let mut text = vec![0u8; len as usize];
    file.read_exact_at(&mut text, start)?;
    Ok(is_whole_json_object(&text))
}

/// Whether `text` is one whole JSON object (a torn line that lost only its
/// newline): a cut anywhere inside an object leaves it unbalanced.
fn is_whole_json_object(text: &[u8]) -> bool {
    text.first() == Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// A value as one JSON line, newline included.
pub fn to_line(value: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Appends whole lines with one write to a file opened with O_APPEND whose
/// length is `len`; returns the new length. A write cut short (disk full)
/// is taken back, so no torn line stays behind.
pub fn append(mut file: &File, len: u64, text: &[u8]) -> io::Result<u64> {
    if let Err(e) = file.write_all(text) {
        let _ = file.set_len(len);
        return Err(e);
    }
    Ok(len + text.len() as u64)
}

/// [`append`], then made durable; lines that cannot be synced are taken
/// back too.
pub fn append_durably(file: &File, len: u64, text: &[u8]) -> io::Result<u64> {
    let end = append(file, len, text)?;
    file.sync_data().inspect_err(|_| {
        let _ = file.set_len(len);
    })?;
    Ok(end)
}

fn read_byte_at(file: &File, offset: u64) -> io::Result<u8> {
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset)?;
    Ok(byte[0])
}

/// The offset of the last newline before `end`, reading backwards in blocks.
fn last_newline_before(file: &File, end: u64) -> io::Result<Option<u64>> {
    let mut block = [0u8; 4096];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(block.len() as u64);
        let chunk = &mut block[..(hi - lo) as usize];
        file.read_exact_at(chunk, lo)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}
