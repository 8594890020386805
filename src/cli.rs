//! The command line, and nothing else: this file depends on no other module
//! of the crate, so the man page and shell completions are generated from it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  every input was stored (or was already in the store)
  1  the run could not go on: store unusable, disk full, no permission on the store
  2  usage error
  3  some inputs failed or were rejected; the others were stored";

const SERVE_EXIT_CODES: &str = "\
Exit codes:
  0  stopped on SIGTERM or Ctrl-C, the requests in flight finished or cut off
  1  could not serve: the address in use, no token yet, the store unusable
  2  usage error";

const TOOL_EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the store could not be read, or an object was missing or damaged
  2  usage error";

const EXPORT_EXIT_CODES: &str = "\
Exit codes:
  0  every entry was written
  1  the run could not go on: the store unreadable, DEST unwritable, disk full
  2  usage error
  3  some entries were not written (a missing or damaged object); the others were";

const VERIFY_EXIT_CODES: &str = "\
Exit codes:
  0  the store is clean
  1  problems were found, or the store could not be read
  2  usage error";

/// File attachments and backup extracts into a content-addressed store.
///
/// Each input is read once, in fixed-size chunks, into a temp file inside
/// the store while it is hashed (SHA-256) and its type sniffed; then it is made
/// durable, renamed to its hash under objects/, and recorded in manifest.jsonl.
#[derive(Debug, Parser)]
#[command(
    name = "ingest",
    version,
    after_help = EXIT_CODES,
    override_usage = "ingest [OPTIONS] [PATH]...\n       ingest [OPTIONS] <COMMAND>",
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Store these inputs (the same as `ingest add`).
    #[command(flatten)]
    pub add: AddArgs,
}

/// Options every subcommand takes, before or after its name.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The store: a directory, or s3://BUCKET/PREFIX. Default:
    /// $XDG_DATA_HOME/ingest, else ~/.local/share/ingest.
    #[arg(long, global = true, env = "INGEST_STORE", value_name = "DIR|URL")]
    pub store: Option<PathBuf>,

    /// S3 stores: where inputs over 64 KiB wait, hashed, for their upload
    /// (smaller ones wait in memory). Default: the cache folder
    /// ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest).
    #[arg(long, global = true, value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// S3 stores: path-style (endpoint/bucket/key) or virtual-hosted
    /// (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL,
    /// else virtual.
    #[arg(long, global = true, value_name = "STYLE", value_parser = ["path", "virtual"])]
    pub s3_addressing: Option<String>,

    /// Print JSON lines instead of text (each command says what it prints).
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to draw progress bars on stderr (auto: only on a terminal).
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto, value_name = "WHEN")]
    pub progress: ProgressMode,

    /// How long to wait for another ingest's lock on the store before giving up (exit 1).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
    pub wait_lock: f64,
}

/// The global options each subcommand takes, and what `--json` prints for
/// it; every other global option is hidden from its help (it is still
/// accepted, and ignored, so that a script may set it once for all).
const TAKES: &[(&str, &[&str], &str)] = &[
    (
        "add",
        &GLOBAL,
        "Print one JSON object per input, then a summary, instead of sha256sum lines.",
    ),
    (
        "mms",
        &GLOBAL,
        "Print one JSON object per attachment, then a summary, instead of sha256sum lines.",
    ),
    (
        "ls",
        &["s3_addressing", "json", "quiet"],
        "Print each manifest line as it is (JSON), its id first, instead of a table.",
    ),
    ("cat", &["s3_addressing"], ""),
    (
        "rm",
        &["s3_addressing", "json", "quiet", "wait_lock"],
        "Print each removed entry's manifest line (JSON), its id first, instead of a table.",
    ),
    (
        "export",
        &["s3_addressing", "json", "quiet"],
        "Print one JSON object per file written instead of sha256sum lines.",
    ),
    (
        "verify",
        &["s3_addressing", "json", "progress"],
        "Print one JSON object per problem, then a summary.",
    ),
    ("gc", &["spool", "s3_addressing", "quiet", "wait_lock"], ""),
    (
        "stats",
        &["s3_addressing", "json"],
        "Print the counts as one JSON object.",
    ),
    (
        "copy",
        &["spool", "s3_addressing", "quiet", "progress", "wait_lock"],
        "",
    ),
    (
        "serve",
        &["spool", "s3_addressing", "json", "quiet", "wait_lock"],
        "Log JSON lines instead of text.",
    ),
    (
        "token",
        &["s3_addressing", "json", "quiet", "wait_lock"],
        "token ls: one JSON object per token.",
    ),
    ("block", &["s3_addressing", "quiet"], ""),
    (
        "uploads",
        &["spool", "s3_addressing", "json"],
        "uploads ls: one JSON object per upload.",
    ),
    (
        "trash",
        &["s3_addressing", "json", "quiet", "wait_lock"],
        "trash ls: each trashed entry's manifest line (JSON), when it was trashed and its id first.",
    ),
];

/// The global options every subcommand takes.
const GLOBAL: [&str; 6] = [
    "spool",
    "s3_addressing",
    "json",
    "quiet",
    "progress",
    "wait_lock",
];

/// The command line as it is parsed and documented: [`Cli`], with each
/// subcommand's help listing only the options it takes, in its own words.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    let globals: Vec<clap::Arg> = cli
        .get_arguments()
        .filter(|arg| GLOBAL.contains(&arg.get_id().as_str()))
        .cloned()
        .collect();
    // A subcommand's own copy of a global option is what clap shows in its
    // help (it propagates a global only where none of that name is).
    for (name, takes, json) in TAKES {
        let own = |mut sub: clap::Command| {
            for arg in &globals {
                let id = arg.get_id().as_str();
                if !takes.contains(&id) {
                    sub = sub.arg(arg.clone().hide(true));
                } else if id == "json" {
                    sub = sub.arg(arg.clone().help(*json));
                }
            }
            sub
        };
        // Commands of commands (`trash ls`, `token add`) take the same.
        cli = cli.mut_subcommand(*name, |sub| {
            let nested: Vec<String> = sub
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .filter(|n| n != "help")
                .collect();
            let mut sub = own(sub);
            for name in nested {
                sub = sub.mut_subcommand(name, own);
            }
            sub
        });
    }
    cli
}

/// The command line, parsed (exits with clap's message on a usage error).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store files, or standard input given as `-` (the default command).
    ///
    /// `ingest add PATH` is the explicit form of `ingest PATH`; use it, or `./PATH`,
    /// to store a file whose name is also a subcommand.
    #[command(after_help = EXIT_CODES)]
    Add(AddArgs),

    /// Store every attachment in SMS Backup & Restore backups (XML, or
    /// gzip-compressed XML), streaming, in constant memory.
    ///
    /// Each part with base64 data is one attachment, judged by the admission
    /// policy with its ct as the declared type. A message already recorded
    /// (same content, date, address and part) is not recorded again, so
    /// re-running a backup, or a later full one, adds only what is new.
    #[command(after_help = EXIT_CODES)]
    Mms(MmsArgs),

    /// List the manifest's entries, oldest first.
    #[command(after_help = TOOL_EXIT_CODES)]
    Ls(Filter),

    /// Remove entries from the manifest, then the objects no remaining
    /// entry (nor the trash) names. Entries are picked by hash (or a unique
    /// prefix of 6+ hex digits), by id and by the filters of `ls`; at least
    /// one must be given. Prints each entry removed. Writers wait while it
    /// runs, and a crash leaves the store as it was before or after, never
    /// between.
    #[command(after_help = TOOL_EXIT_CODES)]
    Rm(RmArgs),

    /// Write an object to standard output, checking its hash as it goes.
    #[command(after_help = TOOL_EXIT_CODES)]
    Cat {
        /// The object's SHA-256, or a unique prefix of at least 6 hex digits.
        hash: String,
    },

    /// Write entries into DEST under their recorded names, made safe.
    #[command(after_help = EXPORT_EXIT_CODES)]
    Export(ExportArgs),

    /// Check the store: re-hash every object, match the manifest against the
    /// objects, find orphans and leftovers. Exit 0 when clean, 1 otherwise.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify {
        /// Check presence and sizes only; read no content.
        #[arg(long)]
        quick: bool,
    },

    /// Remove temp files left by crashed runs (older than an hour), with
    /// --orphans the objects no manifest line names, and on S3 the
    /// multipart uploads never completed (older than a day).
    #[command(after_help = TOOL_EXIT_CODES)]
    Gc {
        /// Also remove orphan objects.
        #[arg(long)]
        orphans: bool,
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove only what is older than AGE (30m, 2h, 1d) instead: below
        /// the defaults, a run still at work elsewhere may lose an upload
        /// or an object it is about to record.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<std::time::Duration>,
        /// Empty from the trash what was removed more than DAYS days ago
        /// (default: the store's `trash_days`, else 30).
        #[arg(long, value_name = "DAYS")]
        trash_days: Option<u64>,
    },

    /// Count objects, bytes, entries, what deduplication saved, and types.
    #[command(after_help = TOOL_EXIT_CODES)]
    Stats,

    /// Copy the store SRC into DEST (each a directory or s3://BUCKET/PREFIX),
    /// object by object, checking each hash, skipping what DEST has; then
    /// the manifest entries. How a store moves to a bucket, or back.
    #[command(after_help = TOOL_EXIT_CODES)]
    Copy {
        #[arg(value_name = "SRC")]
        src: PathBuf,
        #[arg(value_name = "DEST")]
        dest: PathBuf,
    },

    /// Serve the store over HTTP: uploads go through the same pass as
    /// `ingest add` (hash, sniff, policy, clamd, fsync, manifest), and
    /// entries and objects can be read back. Every endpoint but
    /// /v1/health needs a token (`ingest token add NAME`).
    ///
    /// Endpoints: POST /v1/upload (multipart/form-data, any number of
    /// files), PUT /v1/files/NAME (the body is the file), HEAD and GET
    /// /v1/objects/SHA256 and /v1/objects/SHA256/thumbnail (a JPEG's EXIF
    /// thumbnail), GET /v1/entries, GET /v1/limits, GET /v1/health;
    /// errors are JSON. GET / is a web page to upload and browse (sign in
    /// with a token). SIGTERM or Ctrl-C stops accepting, lets uploads in
    /// flight finish within --grace, and exits 0.
    ///
    /// Each file's answer says new, duplicate, rejected (with the reason)
    /// or failed (with the cause); its status: 401 without a valid token,
    /// 403 for a read-only one uploading, 413 past --max-size (before the
    /// body is read when its length says so), 415 for a type refused, 422
    /// for a digest that disagrees or a virus, 503 past --max-uploads or
    /// with clamd unreachable (scans fail closed), 507 when the store's
    /// disk is full, 431 for a request head over 32 KiB.
    /// docs/serving.md shows every answer, every limit, a systemd unit and
    /// an nginx site.
    #[command(after_help = SERVE_EXIT_CODES)]
    Serve(ServeArgs),

    /// Manage the tokens `ingest serve` accepts.
    #[command(subcommand)]
    Token(TokenCommand),

    /// Manage the store's block list: bytes every front end refuses
    /// (`blocked` in the store's config.json; `ingest rm --block` adds to
    /// it).
    #[command(subcommand)]
    Block(BlockCommand),

    /// What was removed to the trash (by the page, the API or `rm --trash`):
    /// list it, restore from it, empty it. `gc` empties what is older than
    /// the store's `trash_days` (30 by default).
    #[command(subcommand)]
    Trash(TrashCommand),

    /// The resumable (tus) uploads under way on this machine's server:
    /// token, name, bytes so far of the whole, and how long idle. `gc`
    /// removes those untouched for a day (`serve --partial-expiry`).
    #[command(subcommand)]
    Uploads(UploadsCommand),
}

/// `ingest uploads`.
#[derive(Debug, Subcommand, Clone)]
pub enum UploadsCommand {
    /// List them; with --json one object per upload.
    Ls,
}

/// `ingest serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// The address and port to listen on: ADDR:PORT (127.0.0.1:8420,
    /// [::1]:8420, 0.0.0.0:8420), HOST:PORT (localhost:8420, its first IPv4
    /// address if it has one), or a port alone (on 127.0.0.1).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8420", value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,

    /// Uploads at most this many at once; more are answered 503 with
    /// Retry-After.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_uploads: u32,

    /// Uploads one token may have under way at once, at most: by default
    /// three quarters of --max-uploads, so one client trickling many bodies
    /// in leaves room for the others.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_uploads_per_token: Option<u32>,

    /// On SIGTERM, how long uploads in flight may take to finish before
    /// they are cut off (and leave nothing behind).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub grace: f64,

    /// Closes a connection that has not sent a whole request head (or, for
    /// HTTP/2, its preface and first request) this long after opening, and
    /// one whose later request head takes this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub header_timeout: f64,

    /// Drops an upload whose body sends nothing for this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub body_timeout: f64,

    /// Closes a connection (HTTP/1.1 keep-alive or HTTP/2) with no request
    /// in flight for this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
    pub idle_timeout: f64,

    /// Closes a connection whose client takes none of an answer for this
    /// long (one 64 KiB chunk at most: a client must read at least 64 KiB
    /// per this many seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub send_timeout: f64,

    /// Connections open at once, at most; at the limit a new one closes the
    /// one idle the longest, or is answered 503 if none is idle. Default:
    /// from the open files limit, which the server raises to its maximum.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,

    /// Bytes of unfinished resumable (tus) uploads one token may hold at
    /// once (1G, 500M); a creation past it is answered 413.
    #[arg(long, value_name = "SIZE", default_value = "16G")]
    pub max_partial: String,

    /// An unfinished resumable upload untouched this long is gone (gc
    /// removes it; the server refuses it).
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_age)]
    pub partial_expiry: std::time::Duration,

    /// Lets browser clients served from ORIGIN (https://notes.example,
    /// app://obsidian.md) call the API with their tokens (CORS); may be
    /// given again; `*` allows any origin. By default only the server's
    /// own page can.
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Vec<String>,

    /// Log one line per request (-v), and more (-vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `ingest token`.
#[derive(Debug, Subcommand, Clone)]
pub enum TokenCommand {
    /// Make a token and print it, once, alone on standard output; only its
    /// hash is kept, beside the store.
    Add {
        /// What the token is for (phone, notes-plugin): letters, digits, - _ .
        name: String,
        /// What the token may do: read (entries and objects), upload (and
        /// read), or delete (move entries to the trash and restore them,
        /// besides uploading and reading).
        #[arg(long, value_enum, default_value_t = ScopeArg::Upload)]
        scope: ScopeArg,
        /// The same as --scope read.
        #[arg(long, conflicts_with = "scope")]
        read_only: bool,
    },
    /// List the tokens by name, scope and date (never their text); with
    /// --json one object per token.
    Ls,
    /// Remove a token: requests with it are refused from then on.
    Rm { name: String },
}

/// What a token may do, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    Read,
    Upload,
    Delete,
}

/// `ingest block`.
#[derive(Debug, Subcommand, Clone)]
pub enum BlockCommand {
    /// List the blocked hashes, one per line.
    Ls,
    /// Block these SHA-256 hashes (64 hex digits each), and those in FILE
    /// (one per line, `sha256sum` lines too; `-` reads standard input).
    Add {
        hashes: Vec<String>,
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// Let these bytes in again.
    Rm { hashes: Vec<String> },
}

/// Which manifest entries a command looks at.
#[derive(Debug, Args, Clone, Default)]
pub struct Filter {
    /// Only entries whose type matches PATTERN (image/*, video/mp4).
    #[arg(long, value_name = "PATTERN")]
    pub mime: Option<String>,

    /// Only entries whose name matches GLOB (*.jpg).
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,

    /// Only entries stored at or after DATE: an RFC 3339 time, or a prefix
    /// of one (2026, 2026-11, 2026-11-01, 2026-11-01T12:30), in UTC.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Only entries stored before DATE (the same forms as --since).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,

    /// Only entries whose source matches GLOB (/home/me/Photos/**,
    /// http:*, a backup's path).
    #[arg(long, value_name = "GLOB")]
    pub source: Option<String>,

    /// Only entries whose recorded path starts with PREFIX (Photos/2019/:
    /// a folder of the tree a run was given).
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct RmArgs {
    /// Only entries of these objects (full SHA-256 or unique prefixes).
    pub hashes: Vec<String>,

    #[command(flatten)]
    pub filter: Filter,

    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Also add the removed objects to the store's block list (`blocked`
    /// in config.json): add, mms and serve then refuse those bytes (exit
    /// 3, HTTP 403), so a nightly run over a folder that still holds them
    /// does not bring them back.
    #[arg(long)]
    pub block: bool,

    /// Only the entry of this id (32 hex digits, as `ls --json` and the
    /// server's pages show); may be given again.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,

    /// Only entries stored more than AGE ago (90d, 6mo, 2y): a retention
    /// rule for cron, with --source 'http:*' for a server's uploads.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Option<std::time::Duration>,

    /// Move the entries to the trash instead, objects kept, to restore
    /// with `ingest trash restore` until `gc` empties it.
    #[arg(long, conflicts_with = "purge")]
    pub trash: bool,

    /// Remove the selected entries' objects at once, with every entry that
    /// names them (other names, and the trash's, too): bytes that must be
    /// gone.
    #[arg(long)]
    pub purge: bool,
}

/// `ingest trash`.
#[derive(Debug, Subcommand, Clone)]
pub enum TrashCommand {
    /// List the trashed entries, oldest removal first; with --json one
    /// object per entry (its id, and when it was removed).
    Ls,
    /// Put entries back: these ids, or every one with --all. An entry whose
    /// object is gone stays in the trash (exit 1).
    Restore {
        /// The entries' ids, from `ingest trash ls`.
        #[arg(value_name = "ID")]
        ids: Vec<String>,
        /// Every trashed entry.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Remove trashed entries for good, and the objects nothing else names:
    /// these ids, those removed more than --older-than ago, or all.
    Empty {
        /// Only these entries (ids from `ingest trash ls`).
        #[arg(value_name = "ID")]
        ids: Vec<String>,
        /// Only what was trashed more than AGE ago (7d, 1mo).
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<std::time::Duration>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The folder to write into (created if missing).
    pub dest: PathBuf,

    /// Only these objects (full SHA-256 or unique prefixes); default: every entry.
    pub hashes: Vec<String>,

    #[command(flatten)]
    pub filter: Filter,

    /// copy: a copy of its own (a reflink where the filesystem shares
    /// blocks), checked against its hash. hard: a hard link to the store's
    /// object, which saves space, but then the exported file is the stored
    /// object: making it writable and editing it damages the store.
    #[arg(long, value_enum, default_value_t = LinkMode::Copy, value_name = "HOW")]
    pub link: LinkMode,

    /// Replace files that exist in DEST.
    #[arg(long)]
    pub overwrite: bool,

    /// Rebuild the folders: each entry at its recorded path (the newest
    /// entry of each path), instead of every name in one folder.
    #[arg(long)]
    pub tree: bool,

    /// With --tree: the tree as it stood at DATE (the newest entry of each
    /// path stored at or before it; the forms of --since).
    #[arg(long, value_name = "DATE", requires = "tree")]
    pub as_of: Option<String>,

    /// With --tree: every version of each path, its date in its name
    /// (`IMG_0001 (2026-11-02T03-15-00Z).jpg`).
    #[arg(long, requires = "tree", conflicts_with = "as_of")]
    pub all_versions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkMode {
    /// `auto` was the default once, and hard-linked on one filesystem.
    #[value(alias = "auto")]
    Copy,
    Hard,
}

/// What to store and how.
#[derive(Debug, Args, Clone, Default)]
pub struct AddArgs {
    /// Files and directories to store; `-` reads standard input. With none,
    /// standard input is read when it is a pipe or a regular file.
    #[arg(value_name = "PATH")]
    pub paths: Vec<OsString>,

    /// The name recorded for standard input [default: -].
    #[arg(long, value_name = "NAME")]
    pub name: Option<OsString>,

    /// Follow symbolic links met inside a walked directory (links named on
    /// the command line are always followed).
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Skip paths matching GLOB, relative to the directory walked; a pattern
    /// without `/` matches at any depth, `**` spans folders. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Descend at most N levels below each directory named.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Read every file again instead of trusting the files cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Hash, sniff and report what would happen; write nothing to the store.
    #[arg(long)]
    pub dry_run: bool,

    /// When objects are made durable, always before their manifest lines:
    /// a batch at a time by syncing its own files and folders side by side
    /// (group, the default; a lone input on its own), each one alone
    /// (file), or a batch at a time by one syncfs of the whole filesystem
    /// (batch: as fast as group on a quiet machine, slower when others
    /// write, since it flushes their data too).
    #[arg(long, value_enum, default_value_t = SyncMode::Group, value_name = "WHEN")]
    pub sync: SyncMode,

    /// The type the source declared (an MMS part's ct); kept as
    /// declared_mime when the bytes say otherwise.
    #[arg(long, value_name = "MIME", help_heading = "Admission policy")]
    pub content_type: Option<String>,

    /// The SHA-256 the input must have (one input only), or it is rejected.
    #[arg(long, value_name = "HEX", help_heading = "Admission policy")]
    pub sha256: Option<String>,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `ingest mms`: what to extract and how.
#[derive(Debug, Args, Clone, Default)]
pub struct MmsArgs {
    /// SMS Backup & Restore XML files, plain or gzip-compressed; `-` reads
    /// standard input.
    #[arg(value_name = "BACKUP", required = true)]
    pub backups: Vec<OsString>,

    /// Also store text parts, as UTF-8 text files.
    #[arg(long)]
    pub text: bool,

    /// Read and report what would be stored; write nothing to the store.
    #[arg(long)]
    pub dry_run: bool,

    /// When objects are made durable, always before their manifest lines:
    /// a batch at a time by syncing its own files and folders side by side
    /// (group, the default; a lone input on its own), each one alone
    /// (file), or a batch at a time by one syncfs of the whole filesystem
    /// (batch: as fast as group on a quiet machine, slower when others
    /// write, since it flushes their data too).
    #[arg(long, value_enum, default_value_t = SyncMode::Group, value_name = "WHEN")]
    pub sync: SyncMode,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Admission policy: what may enter the store. Each overrides the same key
/// of the store's config.json.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Admission policy")]
pub struct PolicyArgs {
    /// Reject inputs larger than SIZE (500K, 100M, 2G), reading no further.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Let in only sniffed types matching PATTERN (image/*, video/mp4). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub allow: Vec<String>,

    /// Reject sniffed types matching PATTERN; wins over --allow. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub deny: Vec<String>,

    /// Scan with ClamAV: a clamd unix socket path, or tcp://HOST:PORT.
    #[arg(long, env = "INGEST_CLAMD", value_name = "ADDR")]
    pub clamd: Option<String>,

    /// Store inputs unscanned (with a warning, "scanned": false) when clamd
    /// fails, instead of failing them.
    #[arg(long)]
    pub scan_fail_open: bool,

    /// How long to wait for clamd at each step before the scan fails [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub scan_timeout: Option<f64>,
}

/// A wait in seconds: a number from 0 to a year (`inf`, `nan` and 1e19 are
/// mistakes, not waits).
fn parse_seconds(text: &str) -> Result<f64, String> {
    const YEAR: f64 = 31_536_000.0;
    match text.trim().parse::<f64>() {
        Ok(secs) if (0.0..=YEAR).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0 to {YEAR} (a year)"
        )),
    }
}

/// Where to listen: an address and port, a host name and port, or a port
/// alone, which stays on loopback (opening a server to the network is
/// never a default).
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    let expected = "expected ADDR:PORT (127.0.0.1:8420, [::1]:8420), HOST:PORT (localhost:8420) or a port alone";
    let (host, port) = text.rsplit_once(':').ok_or_else(|| expected.to_owned())?;
    if port.parse::<u16>().is_err() {
        return Err(format!("{port:?} is not a port (0 to 65535)"));
    }
    if host.is_empty() {
        return Err(format!(
            "{expected}; for every interface say so: 0.0.0.0{text} or [::]{text}"
        ));
    }
    let found: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

/// An age such as `90s`, `30m`, `2h` or `1d` (a day being 24 hours).
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let span: jiff::Span = text
        .parse()
        .map_err(|e| format!("{text:?} is not an age such as 30m, 2h or 1d: {e}"))?;
    if span.is_negative() {
        return Err(format!("{text:?}: give an age, not a negative one"));
    }
    // Days are 24 hours; weeks, months and years count back from today.
    let today = jiff::ZonedDateTime::now().date();
    span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .or_else(|_| span.to_duration(today))
        .ok()
        .and_then(|d| std::time::Duration::try_from(d).ok())
        .ok_or_else(|| format!("{text:?} is not an age such as 30m, 2h, 1d or 1y"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SyncMode {
    #[default]
    Group,
    File,
    Batch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ages_read_in_friendly_units() {
        assert_eq!(parse_age("90s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(parse_age("1d"), Ok(std::time::Duration::from_secs(86_400)));
        assert_eq!(parse_age("0s"), Ok(std::time::Duration::ZERO));
        assert!(parse_age("-1h").is_err());
        assert!(parse_age("soon").is_err());
    }

    #[test]
    fn listen_takes_addresses_host_names_and_ports_alone() {
        let at = |text: &str| parse_listen(text).map(|a| a.to_string());
        assert_eq!(at("127.0.0.1:8420").unwrap(), "127.0.0.1:8420");
        assert_eq!(at("[::1]:8420").unwrap(), "[::1]:8420");
        assert_eq!(at("8420").unwrap(), "127.0.0.1:8420");
        assert_eq!(at("localhost:8420").unwrap(), "127.0.0.1:8420");
        // Every interface is never implied.
        assert!(at(":8420").unwrap_err().contains("0.0.0.0:8420"));
        assert!(at("localhost:99999").unwrap_err().contains("not a port"));
        assert!(at("localhost").is_err());
    }
}
