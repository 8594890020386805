//! Choosing manifest entries by type, name, source and date (`ls`,
//! `export`, `rm`).

use std::str::FromStr;

use anyhow::{Context, Result, anyhow};
use globset::{Glob, GlobMatcher};
use jiff::Timestamp;

use crate::cli::Filter;
use crate::manifest::Entry;
use crate::policy::MimePattern;

/// The filters given on the command line; an empty one matches everything.
#[derive(Debug, Default)]
pub struct EntryFilter {
    mime: Option<MimePattern>,
    name: Option<GlobMatcher>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    source: Option<GlobMatcher>,
    path: Option<Vec<u8>>,
}

/// The objects `hashes` (full SHA-256 or unique prefixes) name in `store`.
pub fn resolve_hashes(
    store: &dyn crate::store::StoreView,
    hashes: &[String],
) -> Result<std::collections::HashSet<crate::object_id::ObjectId>> {
    hashes
        .iter()
        .map(|h| store.resolve(h).map_err(|e| anyhow!(e)))
        .collect()
}

impl EntryFilter {
    /// The filter, or None after saying why the flags are wrong (a usage
    /// error for the caller to exit with).
    pub fn or_usage(filter: &Filter) -> Option<Self> {
        match EntryFilter::new(filter) {
            Ok(filter) => Some(filter),
            Err(usage) => {
                say!("{usage:#}");
                None
            }
        }
    }

    pub fn new(filter: &Filter) -> Result<Self> {
        Ok(EntryFilter {
            mime: filter
                .mime
                .as_deref()
                .map(MimePattern::from_str)
                .transpose()
                .context("--mime")?,
            name: filter
                .name
                .as_deref()
                .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
                .transpose()
                .context("--name")?,
            since: filter
                .since
                .as_deref()
                .map(parse_since)
                .transpose()
                .context("--since")?,
            until: filter
                .until
                .as_deref()
                .map(parse_since)
                .transpose()
                .context("--until")?,
            source: filter
                .source
                .as_deref()
                .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
                .transpose()
                .context("--source")?,
            path: filter.path.as_ref().map(|p| p.as_bytes().to_vec()),
        })
    }

    /// Also only entries stored more than `age` ago.
    pub fn older_than(mut self, age: std::time::Duration) -> Self {
        let bound = ago(age);
        self.until = Some(self.until.map_or(bound, |until| until.min(bound)));
        self
    }

    /// Whether it lets every entry through (no flag was given).
    pub fn is_empty(&self) -> bool {
        self.mime.is_none()
            && self.name.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.source.is_none()
            && self.path.is_none()
    }

    pub fn matches(&self, entry: &Entry) -> bool {
        self.mime.as_ref().is_none_or(|p| p.matches(&entry.mime))
            && self.name.as_ref().is_none_or(|g| g.is_match(&entry.name))
            && self
                .source
                .as_ref()
                .is_none_or(|g| g.is_match(&entry.source))
            && self
                .path
                .as_ref()
                .is_none_or(|prefix| entry.path_bytes().as_encoded_bytes().starts_with(prefix))
            && self.since.is_none_or(|since| {
                entry
                    .ingested_at
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at >= since)
            })
            && self.until.is_none_or(|until| {
                entry
                    .ingested_at
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at < until)
            })
    }
}

/// The moment `age` ago; the earliest there is when that is out of range
/// (nothing is older).
pub fn ago(age: std::time::Duration) -> Timestamp {
    jiff::SignedDuration::try_from(age)
        .ok()
        .and_then(|age| Timestamp::now().checked_sub(age).ok())
        .unwrap_or(Timestamp::MIN)
}

/// A date bound: an RFC 3339 time, or a prefix of one ending at a field.
fn parse_since(text: &str) -> Result<Timestamp> {
    crate::manifest::parse_date_bound(text).map_err(|why| anyhow!(why))
}
