//! What a run tells its user: a line per input on stdout (`sha256sum` lines
//! or JSON), errors and the closing summary on stderr, progress bars on a
//! terminal.

use std::ffi::OsStr;
use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::cli::ProgressMode;
use crate::events::Events;
use crate::failure::Failure;
use crate::jsonl;
use crate::manifest::Entry;
use crate::pipeline::Sink;

/// Inputs smaller than this finish before a bar would be worth drawing.
pub const PROGRESS_THRESHOLD: u64 = 4 << 20;

pub use crate::events::Status;

/// Counts and bytes by status, for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub new: (u64, u64),
    pub duplicate: (u64, u64),
    pub unchanged: (u64, u64),
    pub failed: u64,
    pub rejected: u64,
    pub skipped: u64,
}

impl Totals {
    fn add(&mut self, status: Status, bytes: u64) {
        let slot = match status {
            Status::New => &mut self.new,
            Status::Duplicate => &mut self.duplicate,
            Status::Unchanged => &mut self.unchanged,
            Status::Failed => {
                self.failed += 1;
                return;
            }
            Status::Rejected => {
                self.rejected += 1;
                return;
            }
        };
        slot.0 += 1;
        slot.1 += bytes;
    }

    pub fn summary_line(&self) -> String {
        format!(
            "{} new ({}), {} duplicate ({} saved), {} unchanged ({}), {} rejected, {} failed, {} skipped",
            self.new.0,
            HumanBytes(self.new.1),
            self.duplicate.0,
            HumanBytes(self.duplicate.1),
            self.unchanged.0,
            HumanBytes(self.unchanged.1),
            self.rejected,
            self.failed,
            self.skipped,
        )
    }

    /// The summary as the final `--json` object.
    pub fn summary_json(&self, dry_run: bool) -> Value {
        let pair = |(count, bytes): (u64, u64)| json!({"count": count, "bytes": bytes});
        json!({"summary": {
            "new": pair(self.new),
            "duplicate": pair(self.duplicate),
            "unchanged": pair(self.unchanged),
            "rejected": self.rejected,
            "failed": self.failed,
            "skipped": self.skipped,
            "dry_run": dry_run,
        }})
    }
}

/// Prints outcomes as they come, and the summary at the end.
pub struct Reporter {
    json: bool,
    quiet: bool,
    progress: ProgressMode,
    /// Once stdout is gone (`ingest ... | head -1`), lines are no longer
    /// printed, but inputs are still stored: the output is a by-product.
    stdout_gone: bool,
    /// On a terminal, `sha256sum` lines show a name's control characters
    /// escaped, as `ls` does; in a pipe they keep `sha256sum`'s exact form.
    stdout_terminal: bool,
    totals: Totals,
}

impl Reporter {
    pub fn new(json: bool, quiet: bool, progress: ProgressMode) -> Self {
        Reporter {
            json,
            quiet,
            progress,
            stdout_gone: false,
            stdout_terminal: io::stdout().is_terminal(),
            totals: Totals::default(),
        }
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// An input was stored, or found stored already.
    pub fn stored(&mut self, given: &OsStr, status: Status, entry: &Entry) {
        self.totals.add(status, entry.size);
        let hex = entry.sha256.to_string();
        let line = if self.json {
            json_line(given, status, entry)
        } else if self.stdout_terminal {
            let shown = crate::stderr::escape(&given.to_string_lossy()).into_owned();
            format!("{hex}  {shown}\n").into_bytes()
        } else {
            sha256sum_line(&hex, given)
        };
        self.print(&line);
    }

    /// An input failed or was rejected; the message always reaches stderr,
    /// even with `-q`.
    pub fn failed(&mut self, given: &OsStr, failure: &Failure) {
        let status = match failure {
            Failure::Rejected(_) => Status::Rejected,
            _ => Status::Failed,
        };
        self.totals.add(status, 0);
        say!("{}: {failure:#}", given.to_string_lossy());
        if self.json {
            let mut object = json!({
                "status": status.as_str(),
                "path": given.to_string_lossy(),
                "error": format!("{failure:#}"),
            });
            if let Failure::Rejected(rejection) = failure {
                object["reason"] = rejection.reason().into();
            }
            self.print(&jsonl::to_line(&object));
        }
    }

    /// Something passed over on purpose (a socket in a walk, a symlink
    /// without `-L`): counted, and named on stderr when `warn`.
    pub fn skipped(&mut self, shown: &OsStr, why: &str, warn: bool) {
        self.totals.skipped += 1;
        if warn {
            self.warn(shown, &format!("skipped: {why}"));
        }
    }

    /// A warning on stderr, unless `-q`.
    pub fn warn(&self, shown: &OsStr, what: &str) {
        if !self.quiet {
            say!("warning: {}: {what}", shown.to_string_lossy());
        }
    }

    /// Says something worth knowing that is neither a warning nor an error.
    pub fn note(&self, shown: &OsStr, what: &str) {
        if !self.quiet {
            say!("{}: {what}", shown.to_string_lossy());
        }
    }

    /// The closing summary: a line on stderr unless `-q`, and with `--json`
    /// a final `{"summary": ...}` object on stdout.
    pub fn finish(&mut self, dry_run: bool) {
        if self.json {
            self.print(&jsonl::to_line(&self.totals.summary_json(dry_run)));
        }
        if !self.quiet {
            let note = if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            };
            say!("{}{note}", self.totals.summary_line());
        }
    }

    /// A line on stdout; `-q` prints nothing but errors, so none then.
    fn print(&mut self, line: &[u8]) {
        if self.stdout_gone || self.quiet {
            return;
        }
        let mut out = io::stdout().lock();
        if let Err(e) = out.write_all(line).and_then(|()| out.flush()) {
            if e.kind() != io::ErrorKind::BrokenPipe {
                say!("writing to standard output: {e}");
            }
            self.stdout_gone = true;
        }
    }

    /// A progress sink for an input of `size` bytes (unknown for a pipe).
    pub fn progress_for(&self, label: &OsStr, size: Option<u64>) -> Progress {
        Progress {
            mode: self.progress,
            label: label.to_string_lossy().into_owned(),
            size,
            seen: 0,
            bar: None,
        }
    }
}

impl Events for Reporter {
    fn stored(&mut self, shown: &OsStr, status: Status, entry: &Entry) {
        Reporter::stored(self, shown, status, entry);
    }

    fn failed(&mut self, shown: &OsStr, failure: &Failure) {
        Reporter::failed(self, shown, failure);
    }

    fn skipped(&mut self, shown: &OsStr, why: &str, warn: bool) {
        Reporter::skipped(self, shown, why, warn);
    }

    fn warning(&mut self, shown: &OsStr, what: &str) {
        self.warn(shown, what);
    }

    fn note(&mut self, shown: &OsStr, what: &str) {
        Reporter::note(self, shown, what);
    }

    fn progress(&mut self, shown: &OsStr, size: Option<u64>) -> Option<Box<dyn Sink>> {
        Some(Box::new(self.progress_for(shown, size)))
    }

    fn reading(&mut self, shown: &OsStr, size: Option<u64>) -> Box<dyn FnMut(u64)> {
        let mut progress = self.progress_for(shown, size);
        Box::new(move |n| progress.advance(n))
    }
}

/// Shows a bar for a large input, or a spinner once a pipe has delivered
/// more than [`PROGRESS_THRESHOLD`]; nothing for small inputs.
pub struct Progress {
    /// Asked only once an input is large enough for a bar, so that small
    /// files cost no terminal check.
    mode: ProgressMode,
    label: String,
    size: Option<u64>,
    seen: u64,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn start(&mut self) {
        let target = match self.mode {
            ProgressMode::Never => return,
            ProgressMode::Auto => ProgressDrawTarget::stderr(),
            ProgressMode::Always => {
                ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 20)
            }
        };
        // Asked once per input: a hidden target is not asked again.
        self.mode = ProgressMode::Never;
        if target.is_hidden() {
            return;
        }
        let bar = match self.size {
            Some(len) => ProgressBar::with_draw_target(Some(len), target).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::with_draw_target(None, target).with_style(
                ProgressStyle::with_template("{spinner} {msg} {binary_bytes} {binary_bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(std::mem::take(&mut self.label));
        bar.set_position(self.seen);
        self.bar = Some(bar);
    }
}

impl Sink for Progress {
    fn take(&mut self, chunk: &[u8], _so_far: &crate::pipeline::SoFar) -> Result<(), Failure> {
        self.advance(chunk.len() as u64);
        Ok(())
    }
}

impl Progress {
    /// Counts `n` more bytes read; the bar appears once the input proves large.
    pub fn advance(&mut self, n: u64) {
        self.seen += n;
        if let Some(bar) = &self.bar {
            bar.set_position(self.seen);
        } else if self.mode != ProgressMode::Never
            && self.size.unwrap_or(self.seen) > PROGRESS_THRESHOLD
        {
            self.start();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A line `sha256sum -c` can check: `<hex>  <path>`, with a path holding a
/// backslash or a newline escaped the way `sha256sum` escapes it.
pub fn sha256sum_line(hex: &str, path: &OsStr) -> Vec<u8> {
    let bytes = path.as_bytes();
    let escape = bytes.iter().any(|b| matches!(b, b'\\' | b'\n'));
    let mut line = Vec::with_capacity(hex.len() + bytes.len() + 4);
    if escape {
        line.push(b'\\');
    }
    line.extend_from_slice(hex.as_bytes());
    line.extend_from_slice(b"  ");
    for &b in bytes {
        match b {
            b'\\' if escape => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            _ => line.push(b),
        }
    }
    line.push(b'\n');
    line
}

fn json_line(given: &OsStr, status: Status, entry: &Entry) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert("status".into(), status.as_str().into());
    object.insert("path".into(), given.to_string_lossy().into());
    if let Ok(Value::Object(fields)) = serde_json::to_value(entry) {
        object.extend(fields);
    }
    jsonl::to_line(&object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_escapes_like_coreutils() {
        assert_eq!(sha256sum_line("ab", OsStr::new("x y")), b"ab  x y\n");
        assert_eq!(sha256sum_line("ab", OsStr::new("a\\b")), b"\\ab  a\\\\b\n");
        assert_eq!(sha256sum_line("ab", OsStr::new("c\nd")), b"\\ab  c\\nd\n");
    }
}
