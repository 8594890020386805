//! The catalog's engine, chosen by measurement: SQLite (through rusqlite,
//! as `src/catalog.rs` uses it: WAL, synchronous NORMAL, 8 MiB of page
//! cache) against redb, the pure-Rust embedded database, on the catalog's
//! hottest work: N random 16-byte line identities inserted in sorted
//! batches of 131,072 (one transaction each, as a catch-up makes them),
//! then 20,000 lookups of identities present (an unchanged nightly re-run
//! asks one per file), in one read transaction.
//!
//!   cargo bench --bench catalog_engines [-- N]      (default 1,000,000)

use std::time::Instant;

const BATCH: usize = 1 << 17;
const LOOKUPS: usize = 20_000;

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(1_000_000);
    let ids = identities(n);
    let dir = tempfile::tempdir().expect("a temp dir");
    println!(
        "| engine | {n} identities inserted (s) | lines/s | {LOOKUPS} lookups (ms) | file (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (insert, lookup, size) = sqlite(&dir.path().join("c.sqlite"), &ids);
    row("SQLite (rusqlite, WAL)", n, insert, lookup, size);
    let (insert, lookup, size) = redb_engine(&dir.path().join("c.redb"), &ids);
    row("redb 2", n, insert, lookup, size);
}

fn row(engine: &str, n: usize, insert: f64, lookup: f64, size: u64) {
    println!(
        "| {engine} | {insert:.2} | {:.0} | {:.1} | {:.0} |",
        n as f64 / insert,
        lookup * 1000.0,
        size as f64 / (1 << 20) as f64
    );
}

/// `n` pseudo-random identities (xorshift, fixed seed).
fn identities(n: usize) -> Vec<[u8; 16]> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&next().to_le_bytes());
            id[8..].copy_from_slice(&next().to_le_bytes());
            id
        })
        .collect()
}

fn probes(ids: &[[u8; 16]]) -> Vec<[u8; 16]> {
    let step = (ids.len() / LOOKUPS).max(1);
    ids.iter().step_by(step).take(LOOKUPS).copied().collect()
}

fn sqlite(path: &std::path::Path, ids: &[[u8; 16]]) -> (f64, f64, u64) {
    let mut conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192;
         CREATE TABLE identities (id BLOB PRIMARY KEY) WITHOUT ROWID;",
    )
    .expect("schema");
    let started = Instant::now();
    for chunk in ids.chunks(BATCH) {
        let mut batch = chunk.to_vec();
        batch.sort_unstable();
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO identities (id) VALUES (?1)")
                .expect("prepare");
            for id in &batch {
                insert.execute([&id[..]]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let insert = started.elapsed().as_secs_f64();
    let probes = probes(ids);
    let started = Instant::now();
    let tx = conn.transaction().expect("tx");
    {
        let mut query = tx
            .prepare_cached("SELECT 1 FROM identities WHERE id = ?1")
            .expect("prepare");
        for id in &probes {
            assert!(query.exists([&id[..]]).expect("lookup"));
        }
    }
    tx.commit().expect("commit");
    let lookup = started.elapsed().as_secs_f64();
    drop(conn);
    (
        insert,
        lookup,
        std::fs::metadata(path).map_or(0, |m| m.len()),
    )
}

const TABLE: redb::TableDefinition<&[u8; 16], ()> = redb::TableDefinition::new("identities");

fn redb_engine(path: &std::path::Path, ids: &[[u8; 16]]) -> (f64, f64, u64) {
    let db = redb::Database::builder()
        .set_cache_size(8 << 20)
        .create(path)
        .expect("create");
    let started = Instant::now();
    for chunk in ids.chunks(BATCH) {
        let mut batch = chunk.to_vec();
        batch.sort_unstable();
        let mut tx = db.begin_write().expect("tx");
        // As WAL with synchronous NORMAL: durable at checkpoints, not at
        // every commit.
        tx.set_durability(redb::Durability::Eventual);
        {
            let mut table = tx.open_table(TABLE).expect("table");
            for id in &batch {
                table.insert(id, ()).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let insert = started.elapsed().as_secs_f64();
    let probes = probes(ids);
    let started = Instant::now();
    let tx = db.begin_read().expect("tx");
    let table = tx.open_table(TABLE).expect("table");
    for id in &probes {
        assert!(table.get(id).expect("lookup").is_some());
    }
    let lookup = started.elapsed().as_secs_f64();
    drop(table);
    drop(tx);
    drop(db);
    (
        insert,
        lookup,
        std::fs::metadata(path).map_or(0, |m| m.len()),
    )
}
