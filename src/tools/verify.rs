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
use crate::store::{NamedObject, NamedObjects, Opener, Paired, PairedObjects, StoreView};

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
        trashed: Default::default(),
    };
    let torn = check.read_manifest()?;
    check.read_trash()?;
    check.check_objects(&torn, quick, global)?;
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
    /// The objects the trash keeps: no orphans.
    trashed: std::collections::HashSet<ObjectId>,
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

    /// Every line, streamed: unreadable and torn ones are problems. Returns
    /// the object a torn last line names, if it is whole otherwise (the
    /// catalog does not index it; gc keeps it, the next run completes it).
    fn read_manifest(&mut self) -> Result<Option<ObjectId>> {
        let manifest = self.store.manifest_name();
        let mut torn_names = None;
        for line in self.store.entries()? {
            match line? {
                Line::Value(_) => self.entries += 1,
                Line::Unreadable { offset, reason } => {
                    self.problem(
                        "unreadable",
                        &manifest,
                        &format!("line at byte {offset}: {reason}"),
                    )?;
                }
                Line::Torn { offset, text } => {
                    torn_names = crate::manifest::torn_entry(&text).map(|entry| entry.sha256);
                    self.problem("torn", &manifest, &format!("last line at byte {offset} has no newline (repaired by the next ingest)"))?;
                }
            }
        }
        Ok(torn_names)
    }

    /// The trash's records: each object one names must be stored (an
    /// unreadable record is a problem, not a stop).
    fn read_trash(&mut self) -> Result<()> {
        let records = match self.store.trash() {
            Ok(records) => records,
            Err(e) => {
                return self.problem("unreadable", "trash", &format!("{e:#}"));
            }
        };
        self.trashed = crate::trash::held_objects(&records);
        for record in &records {
            for entry in &record.entries {
                if self.store.object_size(&entry.sha256)?.is_none() {
                    let detail = format!(
                        "trash record {} names it ({}), and it is not stored",
                        record.key,
                        crate::stderr::escape(&entry.name)
                    );
                    self.problem("missing", &self.store.object_name(&entry.sha256), &detail)?;
                }
            }
        }
        Ok(())
    }

    /// The objects listed and the objects the manifest names, both in the
    /// order of their ids, walked side by side: memory stays flat whatever
    /// the store's size.
    fn check_objects(
        &mut self,
        torn: &Option<ObjectId>,
        quick: bool,
        global: &GlobalArgs,
    ) -> Result<()> {
        let mut total = 0u64;
        for named in NamedObjects::of(self.store)? {
            total += named?.largest;
        }
        let reporter = crate::report::Reporter::new(false, true, global.progress);
        let mut progress = reporter.progress_for(std::ffi::OsStr::new("verify"), Some(total));
        let mut pass = Pass::new();
        let manifest = self.store.manifest_name();
        for step in PairedObjects::of(self.store)? {
            let (object, this) = match step? {
                Paired::Unlisted(missing) => {
                    self.missing(&missing)?;
                    continue;
                }
                Paired::Listed(object, this) => (object, this),
            };
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
                        self.problem("unreadable", &shown, &format!("{e:#}"))?;
                        continue;
                    }
                };
                if passed.id != id {
                    let moved = self.store.quarantine(&object)?;
                    let detail = format!("content hashes to {}; moved to {moved}", passed.id);
                    // Its lines now name a missing object; said once, here.
                    self.problem("corrupt", &shown, &detail)?;
                    continue;
                }
            }
            match this {
                Some(named) => {
                    if named.size != named.largest {
                        let detail = format!(
                            "lines disagree on the size of {id} ({} and {})",
                            named.size, named.largest
                        );
                        self.problem("size", &manifest, &detail)?;
                    } else if named.size != object.size {
                        let detail =
                            format!("{} bytes, the manifest says {}", object.size, named.size);
                        self.problem("size", &shown, &detail)?;
                    }
                }
                None if *torn == Some(id) || self.trashed.contains(&id) => {}
                None => self.problem(
                    "orphan",
                    &shown,
                    "no manifest line names it (ingest gc --orphans removes it)",
                )?,
            }
        }
        Ok(())
    }

    fn missing(&mut self, named: &NamedObject) -> Result<()> {
        let detail = format!("manifest line {} names it", named.first_line + 1);
        let name = self.store.object_name(&named.id);
        self.problem("missing", &name, &detail)
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
