//! The report route's decode path (`api::ingest::decode_report`: content type, gzip inflation
//! with its bound, JSON, `Report::validate`) on arbitrary bodies. Never a panic; and a report it
//! accepts must survive a round trip through JSON and be accepted again.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use ward_collector::api::ingest::{BodyLimits, decode_report};
use ward_shared::Limits;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    let limits = BodyLimits {
        max_body: 4 << 20,
        max_inflated: 16 << 20,
        report: Limits::V1,
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if data.starts_with(&[0x1f, 0x8b]) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok((report, _)) = decode_report(&headers, data, &limits, now) {
        let again = serde_json::to_vec(&report).expect("an accepted report serialises");
        headers.remove(header::CONTENT_ENCODING);
        let (back, _) = decode_report(&headers, &again, &limits, now)
            .expect("an accepted report is accepted again after a round trip");
        assert_eq!(back, report);
    }
});
