//! What the front ends that store (`add`, `mms`, `serve`) share: their
//! flags, each parsed once, here, before any store is opened; the store's
//! own config.json is merged in only by [`Policy::resolve`]; and how a
//! run's counts become its exit code.
//!
//! [`Policy::resolve`]: crate::policy::Policy::resolve

use anyhow::Result;

use crate::cli::{PolicyArgs, SyncMode};
use crate::engine::{Durability, Stopped};
use crate::exit::Exit;
use crate::policy::{PolicyGiven, StoreConfig};
use crate::report::Reporter;

/// The value, or None after printing why the command line is wrong.
pub fn usage_checked<T>(checked: Result<T>) -> Option<T> {
    match checked {
        Ok(value) => Some(value),
        Err(usage) => {
            say!("{usage:#}");
            None
        }
    }
}

/// The engine's durability for `--sync`.
pub fn durability(sync: SyncMode) -> Durability {
    match sync {
        SyncMode::Group => Durability::Grouped,
        SyncMode::File => Durability::PerInput,
        SyncMode::Batch => Durability::PerBatch,
    }
}

/// The admission policy's flags, parsed: an error names the flag.
pub fn policy(args: &PolicyArgs) -> Result<PolicyGiven> {
    PolicyGiven::parse(StoreConfig {
        max_size: args.max_size.clone(),
        allow: args.allow.clone(),
        deny: args.deny.clone(),
        clamd: args.clamd.clone(),
        scan_fail_open: args.scan_fail_open.then_some(true),
        scan_timeout: args.scan_timeout,
        blocked: Vec::new(),
        trash_days: None,
    })
}

/// How the run ended, from what the reporter counted.
pub fn exit_for(finished: Result<(), Stopped>, reporter: &Reporter) -> Exit {
    let totals = reporter.totals();
    match finished {
        Err(Stopped) => Exit::Fatal,
        Ok(()) if totals.failed + totals.rejected > 0 => Exit::Partial,
        Ok(()) => Exit::Success,
    }
}
