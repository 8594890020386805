//! The streaming path against the old approach (read the whole input into
//! memory, then hash it, then write it), both through the same store, on
//! 1 MiB, 64 MiB and 512 MiB inputs. Every iteration starts from an empty
//! store, so each one writes, fsyncs and renames a new object.
//!
//! `cargo bench --bench pipeline`

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ingest::engine::{Ingest, Settings};
use ingest::events::Tally;
use ingest::hashing::Sha256;
use ingest::input::open_path;
use ingest::manifest::Entry;
use ingest::sniff;
use ingest::store::{Backend, LocalStore, Stager};
use tempfile::TempDir;

const SIZES: [(&str, usize); 3] = [
    ("1MiB", 1 << 20),
    ("64MiB", 64 << 20),
    ("512MiB", 512 << 20),
];

fn make_input(dir: &Path, len: usize) -> PathBuf {
    let path = dir.join(format!("input-{len}"));
    let mut file = fs::File::create(&path).expect("create input");
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ len as u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for b in block.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 32) as u8;
        }
        let n = left.min(block.len());
        file.write_all(&block[..n]).expect("write input");
        left -= n;
    }
    path
}

fn fresh_store(scratch: &Path) -> (TempDir, LocalStore) {
    let dir = tempfile::tempdir_in(scratch).expect("store dir");
    let store = LocalStore::open_or_create(dir.path()).expect("store");
    (dir, store)
}

/// The old way: the whole input in memory, hashed, sniffed, then written.
fn whole_in_memory(store: &mut LocalStore, path: &Path) {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("read input");
    let digest = Sha256::digest(&bytes);
    let id = ingest::object_id::ObjectId::from_bytes(digest);
    let kind = sniff::sniff_bytes(&bytes[..bytes.len().min(sniff::PREFIX_LEN)]);
    let mut staging = store.stager().stage().expect("stage");
    staging.write_all(&bytes).expect("write");
    store.publish(vec![(staging, id)]).expect("publish");
    let kind = kind.unwrap_or(sniff::Kind {
        mime: "application/octet-stream".into(),
        ext: String::new(),
    });
    let size = bytes.len() as u64;
    let name = OsStr::new("input");
    let entry = Entry::new(id, size, kind, name, path.as_os_str(), String::new());
    store.record(&[entry], &mut || Ok(())).expect("record");
}

fn streaming(store: LocalStore, path: &Path) {
    let mut ingest = Ingest::new(store, Tally::default(), Settings::default(), None);
    let input = open_path(path).expect("open input");
    ingest.add_input(path.as_os_str(), input).expect("store");
    ingest.flush().expect("flush");
    assert_eq!(ingest.events.new, 1);
}

fn bench(c: &mut Criterion) {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch");
    for (label, len) in SIZES {
        let input = make_input(scratch.path(), len);
        let mut group = c.benchmark_group(format!("ingest/{label}"));
        group.throughput(Throughput::Bytes(len as u64));
        if len >= 64 << 20 {
            group.sample_size(10);
        }
        group.bench_function("streaming", |b| {
            b.iter_batched(
                || fresh_store(scratch.path()),
                |(dir, store)| {
                    streaming(store, &input);
                    dir
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function("whole-in-memory", |b| {
            b.iter_batched(
                || fresh_store(scratch.path()),
                |(dir, mut store)| {
                    whole_in_memory(&mut store, &input);
                    dir
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
