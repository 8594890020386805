//! `ingest add` (and plain `ingest PATH...`): the command line's front end
//! of the engine for files, folders and standard input.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::cache::FilesCache;
use crate::cli::{AddArgs, GlobalArgs};
use crate::commands::flags;
use crate::engine::{Ingest, STDIN, Settings};
use crate::exit::Exit;
use crate::input;
use crate::object_id::ObjectId;
use crate::policy::Policy;
use crate::policy::PolicyGiven;
use crate::report::Reporter;
use crate::store::Backend;
use crate::store::{Access, Opened, Opener};
use crate::walk::WalkOptions;

/// Stores every input named by `args`, and returns how the run ended.
pub fn run(global: &GlobalArgs, opener: &Opener, args: &AddArgs) -> Result<Exit> {
    let (inputs, walk_options) = match plan_inputs(args) {
        Ok(plan) => plan,
        Err(usage) => {
            say!("{usage:#}");
            return Ok(Exit::Usage);
        }
    };
    let stdin_name = args.name.clone().unwrap_or_else(|| OsString::from(STDIN));
    let plan = Plan {
        walk: walk_options,
        inputs: &inputs,
        stdin_name: &stdin_name,
        no_cache: args.no_cache,
        dry_run: args.dry_run,
    };
    // The flags are checked before the store is touched; then the store's
    // config.json fills in what they leave unset.
    let Some((settings, given)) = flags::usage_checked(settings_from(args)) else {
        return Ok(Exit::Usage);
    };
    match opener.open(Access::write_unless(args.dry_run))? {
        Opened::Local(store) => run_on(global, store, settings, &given, plan),
        Opened::S3(store) => run_on(global, store, settings, &given, plan),
    }
}

/// `ingest lss`: a single path that does not exist, looks like no path
/// (no `/` or `.`), and is a command's name mistyped (one edit away, two
/// for names of four letters or more) is a usage error that says which
/// command was meant, never a file that could not be found. None for
/// anything else.
pub fn mistyped_command(paths: &[OsString], commands: &[String]) -> Option<String> {
    let [only] = paths else { return None };
    let text = only.to_str()?;
    if text.contains(['/', '.']) || text.is_empty() || Path::new(only).exists() {
        return None;
    }
    let within = |name: &str| match name.len() {
        0..=3 => 1,
        _ => 2,
    };
    let (distance, name) = commands
        .iter()
        .map(|name| (edit_distance(text, name), name))
        .min()?;
    (distance <= within(name)).then(|| {
        format!(
            "{text:?} is neither a file nor a command: did you mean `ingest {name}`? (to store a file named {text:?}, use `ingest add ./{text}`)"
        )
    })
}

/// Levenshtein distance between two short words, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn run_on<B: Backend>(
    global: &GlobalArgs,
    store: B,
    settings: Settings,
    given: &PolicyGiven,
    plan: Plan,
) -> Result<Exit> {
    let Some(policy) = flags::usage_checked(Policy::resolve(store.config()?, given)) else {
        return Ok(Exit::Usage);
    };
    let settings = Settings { policy, ..settings };
    let plan = Plan {
        walk: plan.walk.skipping(&store.local_folders()),
        ..plan
    };
    let cache_path = store.catalog_path();
    Ok(run_job(global, store, settings, &cache_path, &plan))
}

/// What `add` was asked to read, whatever the store.
struct Plan<'a> {
    walk: WalkOptions,
    inputs: &'a [OsString],
    stdin_name: &'a OsStr,
    no_cache: bool,
    dry_run: bool,
}

fn run_job<B: Backend>(
    global: &GlobalArgs,
    store: B,
    settings: Settings,
    cache_path: &Path,
    plan: &Plan,
) -> Exit {
    let cache = (!plan.no_cache).then(|| FilesCache::load(cache_path, !plan.dry_run));
    let reporter = Reporter::new(global.json, global.quiet, global.progress);
    let mut job = Ingest::new(store, reporter, settings, cache);
    let finished = job.run(plan.inputs, &plan.walk, plan.stdin_name);
    job.events.finish(plan.dry_run);
    flags::exit_for(finished, &job.events)
}

/// The settings the flags make (the policy left to the store's config to
/// complete), and the policy's flags, parsed.
fn settings_from(args: &AddArgs) -> Result<(Settings, PolicyGiven)> {
    let expected = args
        .sha256
        .as_deref()
        .map(|hex| hex.trim().to_ascii_lowercase().parse::<ObjectId>())
        .transpose()
        .context("--sha256")?;
    if expected.is_some()
        && (args.paths.len() > 1 || args.paths.iter().any(|p| Path::new(p).is_dir()))
    {
        return Err(anyhow!("--sha256 checks one input: name one file, or `-`"));
    }
    if let Some(declared) = &args.content_type
        && crate::media_type::clean(declared).is_none()
    {
        let shown = crate::stderr::escape(declared);
        return Err(anyhow!(
            "--content-type {shown:?}: not one media type such as image/jpeg"
        ));
    }
    let settings = Settings {
        durability: flags::durability(args.sync),
        dry_run: args.dry_run,
        policy: Policy::default(),
        expected,
        declared_mime: args.content_type.clone(),
        no_input_progress: false,
    };
    Ok((settings, flags::policy(&args.policy)?))
}

/// The inputs in order, `-` standing for standard input, and how to walk
/// directories; or why the command line makes no sense.
fn plan_inputs(args: &AddArgs) -> Result<(Vec<OsString>, WalkOptions)> {
    let walk = WalkOptions::new(args.follow, args.max_depth, &args.exclude)?;
    let stdin_count = args.paths.iter().filter(|p| *p == STDIN).count();
    if stdin_count > 1 {
        return Err(anyhow!("standard input (-) can be read only once"));
    }
    if args.paths.is_empty() {
        if !input::stdin_has_data() {
            return Err(anyhow!(
                "nothing to store: name files, or pipe data in (`-` reads a terminal)"
            ));
        }
        return Ok((vec![OsString::from(STDIN)], walk));
    }
    if stdin_count == 1 && input::stdin_is_closed() {
        return Err(anyhow!(
            "standard input is closed (or /dev/null): nothing to store from `-`"
        ));
    }
    if args.name.is_some() && stdin_count == 0 {
        return Err(anyhow!("--name names standard input; add `-` to read it"));
    }
    Ok((args.paths.clone(), walk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_command_is_told_from_a_path() {
        let commands: Vec<String> = ["ls", "cat", "export", "verify", "serve", "token"]
            .map(String::from)
            .to_vec();
        let suggest = |word: &str| mistyped_command(&[OsString::from(word)], &commands);
        assert!(suggest("lss").unwrap().contains("`ingest ls`"));
        assert!(suggest("exprot").unwrap().contains("`ingest export`"));
        assert!(suggest("verfy").unwrap().contains("`ingest verify`"));
        assert_eq!(
            suggest("rm"),
            None,
            "two edits from ls is too far for a short name"
        );
        assert_eq!(suggest("photos"), None);
        assert_eq!(suggest("ls.txt"), None);
        assert_eq!(suggest("./lss"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
