//! `import::parse` (format detection, text decoding, then the parser it picks) on arbitrary
//! bytes, as the intake calls it: records or a reason, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    if let Ok(parsed) = ward_collector::import::parse(data, "fuzz-input.txt", now) {
        // What the store is given must serialise.
        for record in &parsed.records {
            assert!(serde_json::to_vec(record).is_ok());
        }
    }
});
