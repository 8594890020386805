//! `ingest verify`: re-hash every object as a stream and match the store
//! against its manifest. Every problem is named on its own line.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use anyhow::Result;
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::Line;
use crate::object_id::ObjectId;
use crate::pipeline::Pass;
use crate::store::Opener;
use crate::store::StoreView;

/// What the manifest says of one object.
struct Named {
    size: u64,
    /// The byte offset of the first line naming it.
    line: u64,
    seen: bool,
}

pub fn run(global: &GlobalArgs, opener: &Opener, quick: bool) -> Result<Exit> {
    let store = opener.view()?;
    let mut check = Check {
        store: store.as_ref(),
        out: BufWriter::new(io::stdout().lock()),
        json: global.json,
        problems: HashMap::new(),
        objects: 0,
        bytes: 0,
        entries: 0,
    };
    let mut named = check.read_manifest()?;
    check.check_objects(&mut named, quick, global)?;
    for (id, named) in &named {
        if !named.seen {
            let detail = format!("manifest line at byte {} names it", named.line);
            check.problem("missing", &store.object_name(id), &detail)?;
        }
    }
    check.check_temp_files()?;
    check.finish()
}

struct Check<'a, W: Write> {
    store: &'a dyn StoreView,
    out: W,
    json: bool,
    problems: HashMap<&'static str, u64>,
    objects: u64,
    bytes: u64,
    entries: u64,
}

impl<W: Write> Check<'_, W> {
    fn problem(&mut self, kind: &'static str, what: &str, detail: &str) -> Result<()> {
        *self.problems.entry(kind).or_default() += 1;
        let text = if self.json {
            json!({"problem": kind, "path": what, "detail": detail}).to_string()
        } else {
            format!("{kind}: {what}: {detail}")
        };
        super::line(&mut self.out, &text)?;
        Ok(())
    }

    /// Every line: unreadable ones are problems, and each object named is
    /// remembered with its size.
    fn read_manifest(&mut self) -> Result<HashMap<ObjectId, Named>> {
        let mut named: HashMap<ObjectId, Named> = HashMap::new();
        let manifest = self.store.manifest_name();
        for line in self.store.entries()? {
            match line? {
                Line::Value(entry) => {
                    self.entries += 1;
                    let first = named.entry(entry.sha256).or_insert(Named {
                        size: entry.size,
                        line: 0,
                        seen: false,
                    });
                    if first.size != entry.size {
                        let detail = format!(
                            "lines disagree on the size of {} ({} and {})",
                            entry.sha256, first.size, entry.size
                        );
                        self.problem("size", &manifest, &detail)?;
                    }
                }
                Line::Unreadable { offset, reason } => {
                    self.problem(
                        "unreadable",
                        &manifest,
                        &format!("line at byte {offset}: {reason}"),
                    )?;
                }
                Line::Torn { offset, text } => {
                    // A whole line that only lost its newline still names
                    // its object (gc keeps it; the next run completes it).
                    if let Some(entry) = crate::manifest::torn_entry(&text) {
                        named.entry(entry.sha256).or_insert(Named {
                            size: entry.size,
                            line: offset,
                            seen: false,
                        });
                    }
                    self.problem("torn", &manifest, &format!("last line at byte {offset} has no newline (repaired by the next ingest)"))?;
                }
            }
        }
        Ok(named)
    }

    fn check_objects(
        &mut self,
        named: &mut HashMap<ObjectId, Named>,
        quick: bool,
        global: &GlobalArgs,
    ) -> Result<()> {
        let mut pass = Pass::new();
        let total: u64 = named.values().map(|n| n.size).sum();
        let reporter = crate::report::Reporter::new(false, true, global.progress);
        let mut progress = reporter.progress_for(std::ffi::OsStr::new("verify"), Some(total));
        for object in self.store.listing()? {
            let object = object?;
            let shown = object.shown.clone();
            let Some(id) = object.id else {
                self.problem("stray", &shown, "not an object (wrong name, place or kind)")?;
                continue;
            };
            self.objects += 1;
            self.bytes += object.size;
            if !quick {
                let read = self.store.read_object(&id).and_then(|mut file| {
                    pass.run(&mut file, &mut [&mut progress])
                        .map_err(|f| anyhow::anyhow!("{f:#}"))
                });
                let passed = match read {
                    Ok(passed) => passed,
                    Err(e) => {
                        // Said once, here, and the check goes on.
                        if let Some(entry) = named.get_mut(&id) {
                            entry.seen = true;
                        }
                        self.problem("unreadable", &shown, &format!("{e:#}"))?;
                        continue;
                    }
                };
                if passed.id != id {
                    let moved = self.store.quarantine(&object)?;
                    let detail = format!("content hashes to {}; moved to {moved}", passed.id);
                    self.problem("corrupt", &shown, &detail)?;
                    // Its lines now name a missing object; said once, here.
                    named.remove(&id);
                    continue;
                }
            }
            match named.get_mut(&id) {
                Some(entry) => {
                    entry.seen = true;
                    if entry.size != object.size {
                        let detail =
                            format!("{} bytes, the manifest says {}", object.size, entry.size);
                        self.problem("size", &shown, &detail)?;
                    }
                }
                None => self.problem(
                    "orphan",
                    &shown,
                    "no manifest line names it (ingest gc --orphans removes it)",
                )?,
            }
        }
        Ok(())
    }

    fn check_temp_files(&mut self) -> Result<()> {
        for leftover in self.store.leftovers()? {
            if !leftover.in_use {
                let detail = format!(
                    "{} bytes left by an interrupted run (ingest gc removes it)",
                    leftover.size
                );
                self.problem("temp", &leftover.shown, &detail)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Exit> {
        let problems: u64 = self.problems.values().sum();
        if self.json {
            let summary = json!({"summary": {
                "objects": self.objects, "bytes": self.bytes, "entries": self.entries,
                "problems": problems, "by_kind": self.problems,
            }});
            super::line(&mut self.out, &summary.to_string())?;
        }
        self.out.flush()?;
        let mut kinds: Vec<_> = self
            .problems
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        kinds.sort();
        let count = crate::stderr::count;
        say!(
            "verified {} ({}), {}: {}",
            count(self.objects, "object", "objects"),
            indicatif::HumanBytes(self.bytes),
            count(self.entries, "manifest entry", "manifest entries"),
            if problems == 0 {
                "no problems".to_owned()
            } else {
                let problems = count(problems, "problem", "problems");
                format!("{problems} ({})", kinds.join(", "))
            }
        );
        Ok(if problems == 0 {
            Exit::Success
        } else {
            Exit::Fatal
        })
    }
}
