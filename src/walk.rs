//! Turning the paths on the command line into the files to store: a file
//! is itself, a directory is walked recursively in a stable sorted order.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

/// How directories are walked.
pub struct WalkOptions {
    pub follow: bool,
    pub max_depth: Option<usize>,
    pub exclude: GlobSet,
    /// The store's own folders (its root; for S3 its local cache and
    /// spool), by device and inode: never walked into, whatever path or
    /// symlink leads there (`ingest ~` with the store under
    /// `~/.local/share` must not store the store).
    pub skip: Vec<(u64, u64)>,
}

impl WalkOptions {
    /// Builds the exclude set; a pattern with no `/` matches at any depth,
    /// as in a `.gitignore`.
    pub fn new(follow: bool, max_depth: Option<usize>, patterns: &[String]) -> Result<Self> {
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            let anchored = if trimmed.contains('/') {
                trimmed.trim_start_matches('/').to_owned()
            } else {
                format!("**/{trimmed}")
            };
            let glob = globset::GlobBuilder::new(&anchored)
                .literal_separator(true)
                .build()
                .or_else(|_| Glob::new(&anchored))
                .with_context(|| format!("--exclude {pattern:?} is not a valid glob"))?;
            set.add(glob);
        }
        Ok(WalkOptions {
            follow,
            max_depth,
            exclude: set.build().context("building the --exclude patterns")?,
            skip: Vec::new(),
        })
    }

    /// Never walks into these folders (those that exist now).
    pub fn skipping(mut self, folders: &[PathBuf]) -> Self {
        self.skip.extend(
            folders
                .iter()
                .filter_map(|f| fs::metadata(f).ok())
                .map(|m| identity(&m)),
        );
        self
    }

    fn is_skipped(&self, meta: &fs::Metadata) -> bool {
        self.skip.contains(&identity(meta))
    }

    /// Whether `dir` (canonical) is one of the skipped folders or inside one.
    fn is_inside_skipped(&self, dir: &Path) -> bool {
        !self.skip.is_empty()
            && dir
                .ancestors()
                .any(|a| fs::metadata(a).is_ok_and(|m| self.is_skipped(&m)))
    }

    fn excluded(&self, relative: &Path) -> bool {
        !relative.as_os_str().is_empty() && self.exclude.is_match(relative)
    }
}

/// One thing a walk met.
#[derive(Debug)]
pub enum Found {
    /// A regular file to store. `shown` is the path as the user would name
    /// it (the argument joined with the path below it), `source` the
    /// absolute path, and `meta` what a stat said (None for an argument).
    File {
        shown: PathBuf,
        source: PathBuf,
        meta: Option<fs::Metadata>,
    },
    /// Passed over on purpose; `warn` says whether to tell the user.
    Skipped {
        shown: PathBuf,
        why: String,
        warn: bool,
    },
    /// Could not be looked at (permission denied, vanished).
    Failed {
        shown: PathBuf,
        error: anyhow::Error,
    },
}

/// Everything `arg` stands for, in order. A path named on the command line
/// follows symlinks; what a directory holds follows them only with `-L`.
pub fn expand<'a>(arg: &Path, options: &'a WalkOptions) -> Box<dyn Iterator<Item = Found> + 'a> {
    match fs::metadata(arg) {
        Ok(meta) if meta.is_dir() => match fs::canonicalize(arg) {
            Ok(root) if options.is_inside_skipped(&root) => {
                Box::new(std::iter::once(Found::Skipped {
                    shown: arg.to_path_buf(),
                    why: "it is the store, or inside it".into(),
                    warn: true,
                }))
            }
            Ok(root) => Box::new(walk_dir(arg.to_path_buf(), root, options)),
            Err(e) => Box::new(std::iter::once(Found::Failed {
                shown: arg.to_path_buf(),
                error: e.into(),
            })),
        },
        // Anything else goes to input::open_named, which names what is wrong with it.
        _ => Box::new(std::iter::once(Found::File {
            shown: arg.to_path_buf(),
            source: PathBuf::new(),
            meta: None,
        })),
    }
}

fn walk_dir(
    shown_root: PathBuf,
    root: PathBuf,
    options: &WalkOptions,
) -> impl Iterator<Item = Found> + '_ {
    let mut walker = WalkDir::new(&root)
        .follow_links(options.follow)
        .sort_by_file_name();
    if let Some(depth) = options.max_depth {
        walker = walker.max_depth(depth);
    }
    let prune_root = root.clone();
    walker
        .into_iter()
        .filter_entry(move |entry| {
            let relative = entry
                .path()
                .strip_prefix(&prune_root)
                .unwrap_or(entry.path());
            let store_folder = || {
                !options.skip.is_empty()
                    && entry.file_type().is_dir()
                    && entry.metadata().is_ok_and(|m| options.is_skipped(&m))
            };
            !options.excluded(relative) && !store_folder()
        })
        .filter_map(move |entry| classify(&shown_root, &root, entry))
}

fn classify(
    shown_root: &Path,
    root: &Path,
    entry: walkdir::Result<walkdir::DirEntry>,
) -> Option<Found> {
    let shown_for = |path: &Path| shown_root.join(path.strip_prefix(root).unwrap_or(path));
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => {
            let shown = e
                .path()
                .map(&shown_for)
                .unwrap_or_else(|| shown_root.to_path_buf());
            if let Some(ancestor) = e.loop_ancestor() {
                return Some(Found::Skipped {
                    shown,
                    why: format!("symbolic link loop back to {}", ancestor.display()),
                    warn: true,
                });
            }
            let error = match e.into_io_error() {
                Some(io) => anyhow!(io),
                None => anyhow!("cannot be walked"),
            };
            return Some(Found::Failed { shown, error });
        }
    };
    let shown = shown_for(entry.path());
    let kind = entry.file_type();
    if kind.is_dir() {
        return None;
    }
    if kind.is_symlink() {
        // Only met without -L: with it, walkdir reports the target's type.
        return Some(Found::Skipped {
            shown,
            why: "symbolic link (-L follows)".into(),
            warn: false,
        });
    }
    if !kind.is_file() {
        return Some(Found::Skipped {
            shown,
            why: crate::input::kind_name(kind).into(),
            warn: true,
        });
    }
    match entry.metadata() {
        Ok(meta) => Some(Found::File {
            shown,
            source: entry.into_path(),
            meta: Some(meta),
        }),
        Err(e) => Some(Found::Failed {
            shown,
            error: e
                .into_io_error()
                .map(|io| anyhow!(io))
                .unwrap_or_else(|| anyhow!("vanished")),
        }),
    }
}

/// What a folder is, whatever the path to it: its device and inode.
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// The name recorded for a found file: its base name.
pub fn name_of(path: &Path) -> OsString {
    path.file_name().unwrap_or(path.as_os_str()).to_owned()
}
