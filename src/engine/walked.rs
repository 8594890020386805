//! What a walk of a folder found, to tell which of the paths the files
//! cache knew there are gone (see [`crate::deletions`]).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Ingest, Stopped, tree_path};
use crate::deletions::{WalkRecord, put_walk_record};
use crate::events::Events;
use crate::manifest::Entry;
use crate::store::Backend;
use crate::walk::WalkOptions;

/// One folder's walk under way.
pub(super) struct Walked {
    /// The folder as its files' sources begin (canonical, ending in `/`).
    dir: Vec<u8>,
    /// Where recorded paths start from (the folder's parent).
    base: PathBuf,
    /// A 64-bit digest of each file's source met: 8 bytes a file, so a
    /// walk of a million files holds a few MiB, not its paths. Two sources
    /// sharing a digest would only hide one deletion.
    found: HashSet<u64>,
    /// The paths met again whose content the manifest already held.
    back: Vec<OsString>,
    /// False once anything in the folder could not be read: what was not
    /// seen is then not known to be gone.
    pub(super) complete: bool,
}

impl Walked {
    pub(super) fn found(&mut self, source: &Path) {
        self.found.insert(digest(source.as_os_str().as_bytes()));
    }

    /// A file read again (the cache could not vouch for it) whose content
    /// and source the manifest already held: it may have been deleted and
    /// put back as it was.
    pub(super) fn found_again(&mut self, entry: &Entry) {
        if entry.path.is_some() {
            self.back.push(entry.path_bytes());
        }
    }
}

fn digest(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl<B: Backend, E: Events> Ingest<B, E> {
    /// Starts watching the walk of `given` when deletions can be told from
    /// it: a folder, walked to the bottom, with a files cache, for real.
    pub(super) fn begin_walk(
        &mut self,
        given: &Path,
        base: Option<&Path>,
        options: &WalkOptions,
    ) -> Result<(), Stopped> {
        self.walked = None;
        let watch = options.max_depth.is_none()
            && !self.settings.dry_run
            && self.cache.as_ref().is_some_and(|c| c.is_kept())
            && given.is_dir();
        let (Some(base), Ok(root), true) = (base, std::fs::canonicalize(given), watch) else {
            return Ok(());
        };
        // What is queued belongs to inputs before this walk.
        self.take_side_results(0)?;
        self.flush()?;
        let mut dir = root.into_os_string().into_vec();
        if dir.last() != Some(&b'/') {
            dir.push(b'/');
        }
        self.walked = Some(Walked {
            dir,
            base: base.to_path_buf(),
            found: HashSet::new(),
            back: Vec::new(),
            complete: true,
        });
        Ok(())
    }

    /// Ends the walk: once all it read is recorded, writes what it found
    /// gone or back, and the cache forgets the gone files. A failure here
    /// is a warning: the entries are all stored.
    pub(super) fn end_walk(&mut self) -> Result<(), Stopped> {
        if self.walked.is_none() {
            return Ok(());
        }
        self.take_side_results(0)?;
        self.flush()?;
        let Some(walked) = self.walked.take() else {
            return Ok(());
        };
        if !walked.complete {
            let shown = OsStr::from_bytes(&walked.dir);
            let why = "deletions not recorded: part of the folder could not be read";
            self.events.warning(shown, why);
            return Ok(());
        }
        if let Err(e) = self.record_walk(walked) {
            self.events
                .warning(OsStr::new("deletions"), &format!("not recorded: {e:#}"));
        }
        Ok(())
    }

    fn record_walk(&mut self, walked: Walked) -> Result<()> {
        let Some(cache) = self.cache.as_mut() else {
            return Ok(());
        };
        let known = cache.files_under(&walked.dir)?;
        let gone: Vec<Vec<u8>> = known
            .into_iter()
            .filter(|source| !walked.found.contains(&digest(source)))
            .collect();
        let paths = gone
            .iter()
            .filter_map(|source| tree_path(&walked.base, Path::new(OsStr::from_bytes(source))))
            .collect();
        let record = WalkRecord::new(paths, walked.back)?;
        put_walk_record(&self.store, &record).context("writing the walk's record")?;
        cache.forget(&gone)
    }
}
