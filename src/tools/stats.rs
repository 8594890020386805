//! `ingest stats`: what the store holds, and what deduplication saved.

use std::collections::BTreeMap;

use std::io::{self, Write};

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::Line;
use crate::store::Opener;

#[derive(Default)]
struct ByType {
    entries: u64,
    bytes: u64,
}

pub fn run(global: &GlobalArgs, opener: &Opener) -> Result<Exit> {
    let store = opener.view()?;
    let (mut objects, mut stored) = (0u64, 0u64);
    for object in store.listing()? {
        let object = object?;
        if object.id.is_some() {
            objects += 1;
            stored += object.size;
        }
    }
    let (mut entries, mut recorded, mut unique_named) = (0u64, 0u64, 0u64);
    let mut by_type: BTreeMap<String, ByType> = BTreeMap::new();
    let mut count = |mime: &str, size: u64, first: bool| {
        entries += 1;
        recorded += size;
        if first {
            unique_named += size;
        }
        let slot = match by_type.get_mut(mime) {
            Some(slot) => slot,
            None => by_type.entry(mime.to_owned()).or_default(),
        };
        slot.entries += 1;
        if first {
            slot.bytes += size;
        }
    };
    // From the catalog: one pass over its index by object, so memory stays
    // flat however many objects the store holds. Without one, the manifest
    // is read and every object seen remembered.
    let asked = store.with_catalog(true, &mut |catalog, _| catalog.by_object(&mut count))?;
    if !asked {
        let mut seen = std::collections::HashSet::new();
        for read in store.entries()? {
            let Line::Value(entry) = read? else { continue };
            count(&entry.mime, entry.size, seen.insert(entry.sha256));
        }
    }
    let saved = recorded - unique_named;
    // Written, not printed: a closed or full stdout is an error to report
    // (or, for a reader that went away, a quiet end), never a panic.
    let mut out = io::BufWriter::new(io::stdout().lock());
    if global.json {
        let types: serde_json::Map<_, _> = by_type
            .iter()
            .map(|(mime, t)| {
                (
                    mime.clone(),
                    json!({"entries": t.entries, "bytes": t.bytes}),
                )
            })
            .collect();
        let stats = json!({
            "objects": objects, "bytes": stored, "entries": entries,
            "entry_bytes": recorded, "dedup_saved_bytes": saved, "by_mime": types,
        });
        super::line(&mut out, &stats.to_string())?;
    } else {
        let rows = [
            format!("objects        {objects} ({})", HumanBytes(stored)),
            format!(
                "entries        {entries} ({} as recorded)",
                HumanBytes(recorded)
            ),
            format!("dedup saved    {}", HumanBytes(saved)),
        ];
        for row in rows {
            super::line(&mut out, &row)?;
        }
        for (mime, t) in &by_type {
            let mime = crate::stderr::escape(mime);
            let row = format!(
                "  {mime:<28} {:>8} entries  {:>12}",
                t.entries,
                HumanBytes(t.bytes).to_string()
            );
            super::line(&mut out, &row)?;
        }
    }
    out.flush().context("writing to standard output")?;
    Ok(Exit::Success)
}
