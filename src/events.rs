//! What the engine tells its front end while inputs go through it: each
//! input's outcome, warnings, and a sink per input to follow its bytes (a
//! progress bar). The command line's reporter is one implementation; an
//! HTTP handler or a test is another. Nothing here knows a terminal.

use std::ffi::OsStr;

use crate::failure::Failure;
use crate::manifest::Entry;
use crate::pipeline::Sink;

/// How one input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// This run wrote the object.
    New,
    /// The object was there already; a new manifest line records this input.
    Duplicate,
    /// The object and this input's manifest line were both there already.
    Unchanged,
    Failed,
    /// The admission policy refused it.
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Duplicate => "duplicate",
            Status::Unchanged => "unchanged",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
        }
    }
}

/// Receives what the engine has to say, in the order inputs finish.
/// `shown` names the input as its front end gave it.
pub trait Events {
    /// An input was stored, or found stored already.
    fn stored(&mut self, shown: &OsStr, status: Status, entry: &Entry);

    /// An input failed, or the admission policy refused it.
    fn failed(&mut self, shown: &OsStr, failure: &Failure);

    /// Something passed over on purpose (a socket in a walk, a symlink
    /// without `-L`); `warn` says whether it is worth telling.
    fn skipped(&mut self, shown: &OsStr, why: &str, warn: bool);

    /// Something the user should know about an input that was stored.
    fn warning(&mut self, shown: &OsStr, what: &str);

    /// Something worth knowing that is neither a warning nor an error (a
    /// call-log backup holds no attachments).
    fn note(&mut self, shown: &OsStr, what: &str);

    /// A sink that follows an input's bytes as they pass (`size` when it is
    /// known), if this front end wants one.
    fn progress(&mut self, shown: &OsStr, size: Option<u64>) -> Option<Box<dyn Sink>>;

    /// Follows the bytes of a source read whole, such as a phone backup
    /// whose attachments are not followed one by one: called with each
    /// count of bytes read.
    fn reading(&mut self, shown: &OsStr, size: Option<u64>) -> Box<dyn FnMut(u64)>;
}

/// Counts outcomes and says nothing: for library callers, benchmarks and
/// tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub new: u64,
    pub duplicate: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub warnings: u64,
}

impl Events for Tally {
    fn stored(&mut self, _shown: &OsStr, status: Status, _entry: &Entry) {
        match status {
            Status::New => self.new += 1,
            Status::Duplicate => self.duplicate += 1,
            Status::Unchanged => self.unchanged += 1,
            Status::Failed => self.failed += 1,
            Status::Rejected => self.rejected += 1,
        }
    }

    fn failed(&mut self, _shown: &OsStr, failure: &Failure) {
        match failure {
            Failure::Rejected(_) => self.rejected += 1,
            _ => self.failed += 1,
        }
    }

    fn skipped(&mut self, _shown: &OsStr, _why: &str, _warn: bool) {
        self.skipped += 1;
    }

    fn warning(&mut self, _shown: &OsStr, _what: &str) {
        self.warnings += 1;
    }

    fn note(&mut self, _shown: &OsStr, _what: &str) {}

    fn progress(&mut self, _shown: &OsStr, _size: Option<u64>) -> Option<Box<dyn Sink>> {
        None
    }

    fn reading(&mut self, _shown: &OsStr, _size: Option<u64>) -> Box<dyn FnMut(u64)> {
        Box::new(|_| {})
    }
}
