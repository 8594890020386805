//! `ingest mms BACKUP...`: the command line's front end of the engine for
//! phone backups (the extraction itself is in `crate::mms`).

use std::ffi::OsString;

use anyhow::Result;

use crate::cli::{GlobalArgs, MmsArgs};
use crate::commands::flags;
use crate::engine::{Ingest, Settings};
use crate::exit::Exit;
use crate::mms;
use crate::policy::Policy;
use crate::policy::PolicyGiven;
use crate::report::Reporter;
use crate::store::Backend;
use crate::store::{Access, Opened, Opener};

/// Runs `ingest mms`.
pub fn run(global: &GlobalArgs, opener: &Opener, args: &MmsArgs) -> Result<Exit> {
    if args.backups.iter().filter(|b| *b == "-").count() > 1 {
        say!("standard input (-) can be read only once");
        return Ok(Exit::Usage);
    }
    // The flags first, then the store's config.json, as for add.
    let Some(given) = flags::usage_checked(flags::policy(&args.policy)) else {
        return Ok(Exit::Usage);
    };
    match opener.open(Access::write_unless(args.dry_run))? {
        Opened::Local(store) => run_on(global, args, store, &given),
        Opened::S3(store) => run_on(global, args, store, &given),
    }
}

fn run_on<B: Backend>(
    global: &GlobalArgs,
    args: &MmsArgs,
    store: B,
    given: &PolicyGiven,
) -> Result<Exit> {
    let Some(policy) = flags::usage_checked(Policy::resolve(store.config()?, given)) else {
        return Ok(Exit::Usage);
    };
    let settings = Settings {
        durability: flags::durability(args.sync),
        dry_run: args.dry_run,
        policy,
        no_input_progress: true,
        ..Settings::default()
    };
    Ok(run_job(global, store, settings, &args.backups, args.text))
}

fn run_job<B: Backend>(
    global: &GlobalArgs,
    store: B,
    settings: Settings,
    backups: &[OsString],
    text: bool,
) -> Exit {
    let dry_run = settings.dry_run;
    let reporter = Reporter::new(global.json, global.quiet, global.progress);
    let mut job = Ingest::new(store, reporter, settings, None);
    let finished = mms::extract_all(&mut job, backups, text);
    job.events.finish(dry_run);
    flags::exit_for(finished, &job.events)
}
