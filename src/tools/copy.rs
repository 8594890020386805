//! `ingest copy SRC DEST`: a store into another, local or S3 either side,
//! object by object, each checked against its hash on the way; how a store
//! moves up to a bucket when it outgrows its disk.
//!
//! Objects go first, then the manifest lines that name them, as for any
//! ingest: an interrupted copy leaves a valid destination, and running it
//! again skips what the destination has.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use indicatif::HumanBytes;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::{Entry, Line};
use crate::object_id::ObjectId;
use crate::pipeline::{Pass, StoreWriter};
use crate::report::Reporter;
use crate::store::{Access, Opened, Opener};
use crate::store::{Backend, Committed, RecordKind, Stager, StoreView};

/// Copied objects are published this many at a time (an S3 store uploads
/// a batch's objects concurrently)...
const PUBLISH_OBJECTS: usize = 64;
/// ...or once they hold this many bytes.
const PUBLISH_BYTES: u64 = 256 << 20;

/// Lines are recorded in the destination this many at a time.
const RECORD_BATCH: usize = 1000;

pub fn run(global: &GlobalArgs, opener: &Opener, src: &Path, dest: &Path) -> Result<Exit> {
    let source = opener.open_at(src, Access::Read)?.into_view();
    match opener.open_at(dest, Access::Write)? {
        Opened::Local(store) => copy_into(global, source.as_ref(), store),
        Opened::S3(store) => copy_into(global, source.as_ref(), store),
    }
}

fn copy_into<B: Backend>(global: &GlobalArgs, source: &dyn StoreView, mut dest: B) -> Result<Exit> {
    let mut out = BufWriter::new(io::stdout().lock());
    // Listed twice, the first time for the progress bar's total: a
    // listing streams, and a store's may not fit in memory.
    let mut total = 0u64;
    for listed in source.listing()? {
        total += listed?.size;
    }
    let reporter = Reporter::new(false, true, global.progress);
    let mut progress = reporter.progress_for(std::ffi::OsStr::new("copy"), Some(total));
    let mut pass = Pass::new();
    let mut failed = 0u64;
    let mut tally = Tally::default();
    let mut pending = Vec::new();
    let mut bad = std::collections::HashSet::new();
    let stager = dest.stager();
    for listed in source.listing()? {
        let listed = listed?;
        let Some(id) = listed.id else { continue };
        if dest.has_object(&id)? {
            tally.present += 1;
            progress.advance(listed.size);
            continue;
        }
        let mut staged = stager.stage()?;
        let mut reader = source.read_object(&id)?;
        let passed = pass
            .run(
                &mut reader,
                &mut [&mut StoreWriter(&mut staged), &mut progress],
            )
            .map_err(|f| anyhow!("{f:#}"))
            .with_context(|| format!("copying {}", listed.shown))?;
        if passed.id != id {
            failed += 1;
            bad.insert(id);
            say!(
                "{}: corrupt (its content hashes to {}); not copied, run ingest verify",
                listed.shown,
                passed.id
            );
            continue;
        }
        pending.push((staged, id, passed.size));
        let pending_bytes: u64 = pending.iter().map(|(_, _, size)| size).sum();
        if pending.len() >= PUBLISH_OBJECTS || pending_bytes >= PUBLISH_BYTES {
            publish(&mut dest, &mut pending, &mut tally, &mut out, global.quiet)?;
        }
    }
    publish(&mut dest, &mut pending, &mut tally, &mut out, global.quiet)?;
    let Tally {
        copied,
        present,
        bytes,
    } = tally;
    let mut recorded = 0u64;
    let mut batch: Vec<Entry> = Vec::new();
    let mut record = |batch: &mut Vec<Entry>, dest: &mut B| -> Result<()> {
        let appended = dest.record(batch, &mut || Ok(()))?;
        recorded += appended.iter().filter(|a| **a).count() as u64;
        batch.clear();
        Ok(())
    };
    for line in source.entries()? {
        let Line::Value(entry) = line? else { continue };
        if bad.contains(&entry.sha256) {
            continue;
        }
        batch.push(entry);
        if batch.len() >= RECORD_BATCH {
            record(&mut batch, &mut dest)?;
        }
    }
    record(&mut batch, &mut dest)?;
    // What walks found gone goes along, so the copy restores the same
    // trees on the same dates (records of the same name are the same).
    for (key, text) in source.records(RecordKind::Walks)? {
        dest.put_record(RecordKind::Walks, &key, Some(&text))?;
    }
    out.flush()?;
    drop(progress);
    if !global.quiet {
        say!(
            "copy to {}: {} copied ({}), {present} already there, {failed} failed; {} added",
            dest.describe(),
            crate::stderr::count(copied, "object", "objects"),
            HumanBytes(bytes),
            crate::stderr::count(recorded, "manifest entry", "manifest entries"),
        );
    }
    Ok(if failed > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// What the copy found: objects copied (and their bytes), and objects the
/// destination had already.
#[derive(Default)]
struct Tally {
    copied: u64,
    present: u64,
    bytes: u64,
}

/// Publishes the copied objects waiting in `pending`, and says which were new.
fn publish<B: Backend>(
    dest: &mut B,
    pending: &mut Vec<(B::Staged, ObjectId, u64)>,
    tally: &mut Tally,
    out: &mut impl Write,
    quiet: bool,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(pending);
    let sizes: Vec<(ObjectId, u64)> = batch.iter().map(|(_, id, size)| (*id, *size)).collect();
    let staged = batch.into_iter().map(|(s, id, _)| (s, id)).collect();
    let committed = dest.publish(staged)?;
    for ((id, size), done) in sizes.into_iter().zip(committed) {
        if done == Committed::New {
            tally.copied += 1;
            tally.bytes += size;
            if !quiet {
                super::line(out, &format!("copied {id} ({})", HumanBytes(size)))?;
            }
        } else {
            tally.present += 1;
        }
    }
    Ok(())
}
