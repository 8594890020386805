//! The sniffer gathers its prefix across reads of any sizes: whatever the
//! split, it names the same type as one look at the whole prefix.
#![no_main]

use ingest::sniff::{PREFIX_LEN, Sniffer, sniff_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split_seed, stream)) = data.split_first() else { return };
    let mut sniffer = Sniffer::new();
    let mut rest = stream;
    let mut step = usize::from(split_seed % 17) + 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(step.min(rest.len()));
        sniffer.update(chunk);
        rest = tail;
        step = step * 5 % 23 + 1;
    }
    let prefix = &stream[..stream.len().min(PREFIX_LEN)];
    assert_eq!(sniffer.kind(), sniff_bytes(prefix));
    assert_eq!(sniffer.is_settled(), stream.len() >= PREFIX_LEN);
});
