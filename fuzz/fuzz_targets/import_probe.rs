//! The probe import parser on arbitrary bytes: it must return records or a reason, never panic
//! or hang (libFuzzer reports a crash, a timeout or a memory blow-up).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    let _ = ward_collector::import::probe::parse(data, "fuzz-input", now);
});
