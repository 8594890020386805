//! Why an input was not stored, in the kinds a caller branches on: failed
//! (the input, the store, the scanner) or refused by the admission policy.

use std::fmt;

use indicatif::HumanBytes;

use crate::object_id::ObjectId;

/// The ways storing one input can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// This input could not be read: it is counted as failed, and the run
    /// goes on with the next one.
    #[error("{0:#}")]
    Input(anyhow::Error),
    /// The store could not take it (disk full, no permission, damaged
    /// store): nothing else can be stored either, so the run stops.
    #[error("{0:#}")]
    Store(anyhow::Error),
    /// The admission policy refused this input; nothing of it is stored.
    #[error("{0}")]
    Rejected(Rejection),
    /// The virus scanner could not give a verdict: the input fails (scans
    /// fail closed) and the run goes on.
    #[error("{0:#}")]
    Scan(anyhow::Error),
}

/// The kinds of the I/O errors in an error's chain, outermost first.
pub fn io_kinds(error: &anyhow::Error) -> impl Iterator<Item = std::io::ErrorKind> + '_ {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
}

impl Failure {
    /// True when the run cannot go on after this failure.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Failure::Store(_))
    }
}

/// Why an input was refused, in the words `--json` gives machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    TooLarge {
        limit: u64,
        /// Where the limit was set: `--max-size` or `config.json`.
        by: Source,
    },
    TypeDenied {
        mime: String,
        why: String,
    },
    HashMismatch {
        expected: ObjectId,
        actual: ObjectId,
    },
    Infected {
        signature: String,
    },
    /// The store's block list names these bytes.
    Blocked {
        id: ObjectId,
    },
}

impl Rejection {
    /// The machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "too_large",
            Rejection::TypeDenied { .. } => "type_denied",
            Rejection::HashMismatch { .. } => "hash_mismatch",
            Rejection::Infected { .. } => "infected",
            Rejection::Blocked { .. } => "blocked",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { limit, by } => {
                write!(
                    f,
                    "rejected: larger than {} {} ({limit} bytes)",
                    by.name("--max-size", "max_size"),
                    HumanBytes(*limit)
                )
            }
            Rejection::TypeDenied { mime, why } => write!(f, "rejected: type {mime} {why}"),
            Rejection::HashMismatch { expected, actual } => {
                write!(f, "rejected: SHA-256 is {actual}, expected {expected}")
            }
            Rejection::Infected { signature } => write!(f, "rejected: infected ({signature})"),
            Rejection::Blocked { id } => {
                write!(
                    f,
                    "rejected: the store blocks these bytes ({id}; ingest rm --block)"
                )
            }
        }
    }
}

/// Where a policy value came from, so that a message names what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The command line (or the caller's own settings).
    #[default]
    Given,
    /// The store's `config.json`.
    Config,
}

impl Source {
    /// How to name the value: its flag, or its key in `config.json`.
    pub fn name(self, flag: &str, key: &str) -> String {
        match self {
            Source::Given => flag.to_owned(),
            Source::Config => format!("{key} in config.json"),
        }
    }
}
