//! Admission: every check an input must pass to enter the store (size,
//! type, clamd while it streams; expected hash once it is whole), as one
//! sink with one outcome, and scans that fail open decided here alone.

use crate::failure::Failure;
use crate::failure::Rejection;
use crate::object_id::ObjectId;
use crate::pipeline::{Passed, Sink, SoFar};
use crate::policy::Policy;
use crate::scan::{self, ClamdScan};

/// The checks of one input while it streams, in their fixed order: the
/// size limit, the type (as soon as the sniffing prefix is complete, so a
/// denied 4 GiB file costs a few KiB of reading), then clamd. It comes
/// before the store's writer among the pass's sinks, so a refused chunk is
/// never written.
pub struct Admission<'a> {
    policy: &'a Policy,
    /// The type to judge when the bytes show none (declared, or by name);
    /// None when not known yet: the type is judged in [`Checked::conclude`].
    fallback: Option<String>,
    type_judged: bool,
    scan: Scan,
    warnings: Vec<String>,
}

/// Where the virus scan of one input stands.
enum Scan {
    /// No clamd is configured.
    Off,
    Running(Box<ClamdScan>),
    Clean,
    /// The scan failed and the policy lets inputs in unscanned.
    GaveUp,
}

/// What admission concluded while the input streamed; the checks that need
/// the whole input follow in [`Checked::conclude`].
#[derive(Debug, Default)]
pub struct Checked {
    type_judged: bool,
    /// Whether clamd found the input clean; None when no clamd is set.
    scanned: Option<bool>,
    /// What to tell the user about this input (stored unscanned).
    pub warnings: Vec<String>,
}

impl<'a> Admission<'a> {
    /// Starts admitting one input: connects to clamd if the policy scans.
    pub fn begin(policy: &'a Policy, fallback: Option<String>) -> Result<Self, Failure> {
        let mut admission = Admission {
            policy,
            fallback,
            type_judged: false,
            scan: Scan::Off,
            warnings: Vec::new(),
        };
        if let Some(addr) = &policy.clamd {
            match scan::connect(addr, policy.scan_timeout) {
                Ok(scanner) => admission.scan = Scan::Running(Box::new(scanner)),
                Err(error) => admission.give_up(Failure::Scan(error))?,
            }
        }
        Ok(admission)
    }

    /// What was concluded; call once the pass has returned.
    pub fn checked(self) -> Checked {
        Checked {
            type_judged: self.type_judged,
            scanned: match self.scan {
                Scan::Off => None,
                Scan::Clean => Some(true),
                Scan::Running(_) | Scan::GaveUp => Some(false),
            },
            warnings: self.warnings,
        }
    }

    /// A scan that cannot finish: the input's failure (scans fail closed),
    /// or, when the policy says so, a warning that it goes in unscanned.
    /// The one place that decides.
    fn give_up(&mut self, failure: Failure) -> Result<(), Failure> {
        match failure {
            Failure::Scan(error) if self.policy.scan_fail_open => {
                self.warnings.push(format!("stored unscanned: {error:#}"));
                self.scan = Scan::GaveUp;
                Ok(())
            }
            other => Err(other),
        }
    }

    fn judge_size(&self, so_far: &SoFar) -> Result<(), Failure> {
        match self.policy.max_size {
            Some(limit) if so_far.bytes > limit => Err(Failure::Rejected(Rejection::TooLarge {
                limit,
                by: self.policy.max_size_from,
            })),
            _ => Ok(()),
        }
    }

    fn judge_type(&mut self, so_far: &SoFar) -> Result<(), Failure> {
        let (false, Some(kind)) = (self.type_judged, so_far.kind) else {
            return Ok(());
        };
        let Some(mime) = kind.map(|k| k.mime.as_str()).or(self.fallback.as_deref()) else {
            return Ok(());
        };
        self.type_judged = true;
        self.policy.admit_type(mime).map_err(Failure::Rejected)
    }

    fn scan(&mut self, chunk: Option<&[u8]>, so_far: &SoFar) -> Result<(), Failure> {
        let Scan::Running(scanner) = &mut self.scan else {
            return Ok(());
        };
        let scanned = match chunk {
            Some(chunk) => scanner.take(chunk, so_far),
            None => scanner.finish(so_far).map(|()| self.scan = Scan::Clean),
        };
        match scanned {
            Ok(()) => Ok(()),
            Err(failure) => self.give_up(failure),
        }
    }
}

impl Sink for Admission<'_> {
    fn take(&mut self, chunk: &[u8], so_far: &SoFar) -> Result<(), Failure> {
        self.judge_size(so_far)?;
        self.judge_type(so_far)?;
        self.scan(Some(chunk), so_far)
    }

    fn finish(&mut self, so_far: &SoFar) -> Result<(), Failure> {
        self.judge_type(so_far)?;
        self.scan(None, so_far)
    }
}

impl Checked {
    /// The checks that need the whole input: its hash against the one
    /// expected, and its type if the type was not known while it streamed
    /// (a backup's attachment, typed by the message). Returns whether clamd
    /// found it clean, for its entry.
    pub fn conclude(
        &self,
        policy: &Policy,
        passed: &Passed,
        mime: &str,
        expected: Option<ObjectId>,
    ) -> Result<Option<bool>, Rejection> {
        if let Some(expected) = expected
            && passed.id != expected
        {
            let actual = passed.id;
            return Err(Rejection::HashMismatch { expected, actual });
        }
        if policy.blocked.contains(&passed.id) {
            return Err(Rejection::Blocked { id: passed.id });
        }
        if !self.type_judged {
            policy.admit_type(mime)?;
        }
        Ok(self.scanned)
    }
}
