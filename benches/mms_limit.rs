//! The limit for `ingest mms`: read a backup, base64-decode one attribute's
//! value and SHA-256 it, with nothing else (no XML scanning, no sniffing,
//! no writing). benches/mms.sh runs it as
//! `mms_limit FILE OFFSET LEN [OUT]` on the value's byte range; with OUT it
//! also writes the decoded bytes there and fsyncs them: the limit for a
//! durable extraction.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ingest::hashing::Sha256;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (path, offset, len, out) = match args.as_slice() {
        [path, offset, len] => (path, offset, len, None),
        [path, offset, len, out] => (path, offset, len, Some(out)),
        _ => {
            eprintln!("usage: mms_limit FILE OFFSET LEN [OUT]");
            std::process::exit(2);
        }
    };
    let mut out = out.map(|p| File::create(p).expect("create OUT"));
    let mut file = File::open(path).expect("open backup");
    file.seek(SeekFrom::Start(offset.parse().expect("offset")))
        .expect("seek");
    let mut text = BufReader::with_capacity(32 << 10, file).take(len.parse().expect("len"));
    let mut chunk = vec![0u8; 32 << 10];
    let mut decoded = vec![0u8; 24 << 10];
    let mut hasher = Sha256::new();
    loop {
        let mut filled = 0;
        while filled < chunk.len() {
            let n = text.read(&mut chunk[filled..]).expect("read");
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let n = STANDARD
            .decode_slice(&chunk[..filled], &mut decoded)
            .expect("base64");
        hasher.update(&decoded[..n]);
        if let Some(out) = out.as_mut() {
            out.write_all(&decoded[..n]).expect("write");
        }
    }
    if let Some(out) = out {
        out.sync_all().expect("fsync");
    }
    let digest = hasher.finalize();
    println!(
        "{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
}
