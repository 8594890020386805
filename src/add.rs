//! `ingest add` (and plain `ingest PATH...`): store each input, report it.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use anyhow::{Result, anyhow};

use crate::cli::{AddArgs, GlobalArgs};
use crate::exit::Exit;
use crate::failure::Failure;
use crate::input::{self, Input};
use crate::manifest::Entry;
use crate::pipeline::{Pass, StoreWriter};
use crate::report::{Reporter, Status};
use crate::sniff;
use crate::store::{Backend, Committed, LocalStore};

const STDIN: &str = "-";

/// Stores every input named by `args`, and returns how the run ended.
pub fn run(global: &GlobalArgs, args: &AddArgs) -> Result<Exit> {
    let inputs = match plan_inputs(args) {
        Ok(inputs) => inputs,
        Err(usage) => {
            eprintln!("ingest: {usage}");
            return Ok(Exit::Usage);
        }
    };
    let mut store = LocalStore::open_or_create(&crate::store_location(global)?)?;
    let mut reporter = Reporter::new(global.json, global.quiet, global.progress);
    let mut pass = Pass::new();
    let stdin_name = args.name.clone().unwrap_or_else(|| OsString::from(STDIN));
    for given in &inputs {
        let opened = if given == STDIN {
            input::open_stdin(&stdin_name)
        } else {
            input::open_path(Path::new(given))
        };
        let stored = opened
            .map_err(Failure::Input)
            .and_then(|input| store_input(&mut store, &mut pass, &reporter, given, input));
        match stored {
            Ok((status, entry)) => reporter.stored(given, status, &entry),
            Err(failure) => {
                reporter.failed(given, &failure);
                if failure.is_fatal() {
                    reporter.finish();
                    return Ok(Exit::Fatal);
                }
            }
        }
    }
    reporter.finish();
    Ok(if reporter.totals().failed > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// The inputs in order, `-` standing for standard input; or why the command
/// line makes no sense.
fn plan_inputs(args: &AddArgs) -> Result<Vec<OsString>> {
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
        return Ok(vec![OsString::from(STDIN)]);
    }
    if args.name.is_some() && stdin_count == 0 {
        return Err(anyhow!("--name names standard input; add `-` to read it"));
    }
    Ok(args.paths.clone())
}

/// Streams one input into the store and records it in the manifest.
/// Whatever fails, nothing of this input stays in the store.
pub fn store_input(
    store: &mut dyn Backend,
    pass: &mut Pass,
    reporter: &Reporter,
    given: &OsStr,
    mut input: Input,
) -> Result<(Status, Entry), Failure> {
    let mut staging = store.stage().map_err(Failure::Store)?;
    let passed = {
        let mut progress = reporter.progress_for(given, input.size);
        let mut writer = StoreWriter(&mut *staging);
        pass.run(&mut input.reader, &mut [&mut writer, &mut progress])?
    };
    let by_name = sniff::kind_from_name(&input.name);
    let (mime, ext) = match (passed.sniffed, by_name) {
        (Some(kind), _) | (None, Some(kind)) => (kind.mime, kind.ext),
        (None, None) => (
            "application/octet-stream".to_owned(),
            sniff::name_extension(&input.name).unwrap_or_default(),
        ),
    };
    let committed = staging.commit(&passed.id).map_err(Failure::Store)?;
    let mut entry = Entry {
        sha256: passed.id,
        size: passed.size,
        mime,
        ext,
        name: String::new(),
        name_b64: None,
        source: String::new(),
        source_b64: None,
        ingested_at: now_rfc3339(),
        new: committed == Committed::New,
    };
    entry.set_name(&input.name);
    entry.set_source(&input.source);
    let appended = store
        .record(vec![entry.clone()])
        .map_err(Failure::Store)?
        .first()
        .copied()
        .unwrap_or(false);
    let status = match (committed, appended) {
        (Committed::New, _) => Status::New,
        (Committed::AlreadyPresent, true) => Status::Duplicate,
        (Committed::AlreadyPresent, false) => Status::Unchanged,
    };
    Ok((status, entry))
}

/// The current time, RFC 3339 in UTC, to the second.
fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ProgressMode;
    use crate::testing::FailsAfter;

    #[test]
    fn a_read_error_mid_stream_leaves_nothing_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalStore::open_or_create(dir.path()).unwrap();
        let reporter = Reporter::new(false, true, ProgressMode::Never);
        let input = Input {
            name: "broken.mp4".into(),
            source: "/media/card/broken.mp4".into(),
            size: None,
            reader: Box::new(FailsAfter { good: 1_000_000 }),
        };
        let failure = store_input(
            &mut store,
            &mut Pass::new(),
            &reporter,
            OsStr::new("x"),
            input,
        )
        .unwrap_err();
        assert!(!failure.is_fatal());
        assert!(format!("{failure:#}").contains("after 1000000 bytes"));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects"))
                .unwrap()
                .count(),
            0
        );
        let manifest = dir.path().join("manifest.jsonl");
        assert!(!manifest.exists() || std::fs::read(&manifest).unwrap().is_empty());
    }
}
