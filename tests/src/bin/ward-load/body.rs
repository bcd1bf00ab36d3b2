//! Gzip request bodies that cost the load generator almost nothing per request.
//!
//! A report's JSON starts with `{"schema_version":N,"report_id":"...","collected_at":"..."` (serde
//! writes fields in declaration order), the only part that changes between two reports of one
//! simulated agent. So each template is split once into that head and the rest (the tail); the
//! tail is deflated once. Per request the body is:
//!
//! ```text
//! gzip header (10 bytes)
//! stored deflate block, not final: the new head, uncompressed (~110 bytes)
//! the tail's own raw deflate stream, ending with its final block
//! gzip trailer: CRC-32 (head's CRC combined with the tail's precomputed one) and length
//! ```
//!
//! which is one valid single-member gzip stream: a deflate stream is any sequence of blocks, a
//! stored block ends on a byte boundary and the tail's stream starts on one, and the tail was
//! compressed without references before its start. The collector inflates and parses the whole
//! report as usual; the body is a few bytes larger than `gzip(json)` would be.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Crc;
use uuid::Uuid;
use ward_shared::Report;

/// The gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

#[derive(Debug)]
pub struct Template {
    schema_version: u32,
    /// Raw deflate stream of the JSON after the head.
    tail_deflate: Vec<u8>,
    tail_crc: Crc,
    /// Length of the JSON after the head.
    tail_len: usize,
    /// Length of the whole JSON, for statistics.
    pub json_len: usize,
}

fn head(schema_version: u32, report_id: Uuid, collected_at: &DateTime<Utc>) -> String {
    format!(
        "{{\"schema_version\":{schema_version},\"report_id\":\"{report_id}\",\"collected_at\":\"{}\"",
        collected_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    )
}

impl Template {
    pub fn new(report: &Report) -> anyhow::Result<Self> {
        let json = serde_json::to_vec(report).context("cannot serialize a report template")?;
        let head = head(
            report.schema_version,
            report.report_id,
            &report.collected_at,
        );
        let Some(tail) = json.strip_prefix(head.as_bytes()) else {
            bail!(
                "the report JSON does not start with the expected head {head:?}; \
                 the field order of ward_shared::Report changed, update ward-load's body.rs"
            );
        };
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(tail)?;
        let tail_deflate = encoder.finish()?;
        let mut tail_crc = Crc::new();
        tail_crc.update(tail);
        Ok(Self {
            schema_version: report.schema_version,
            tail_deflate,
            tail_crc,
            tail_len: tail.len(),
            json_len: json.len(),
        })
    }

    /// The gzip body of this template's report with a new id and collection time.
    pub fn body(&self, report_id: Uuid, collected_at: DateTime<Utc>) -> Vec<u8> {
        let head = head(self.schema_version, report_id, &collected_at);
        let head = head.as_bytes();
        // A head is about 110 bytes; a stored block holds up to 65,535.
        let len = u16::try_from(head.len()).unwrap_or(u16::MAX);
        let head = &head[..usize::from(len)];
        let mut out =
            Vec::with_capacity(GZIP_HEADER.len() + 5 + head.len() + self.tail_deflate.len() + 8);
        out.extend_from_slice(&GZIP_HEADER);
        // BFINAL=0, BTYPE=00 (stored), padded to the byte boundary; then LEN and its complement.
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(head);
        out.extend_from_slice(&self.tail_deflate);
        let mut crc = Crc::new();
        crc.update(head);
        crc.combine(&self.tail_crc);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        let total = head.len() + self.tail_len;
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use rand::SeedableRng;

    use super::*;

    #[test]
    fn spliced_body_is_the_report_with_a_new_id() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let now = Utc::now();
        for i in 0..20 {
            let report = crate::templates::report(&mut rng, i, Uuid::now_v7(), now);
            let template = Template::new(&report).unwrap();
            let (id, at) = (Uuid::now_v7(), Utc::now());
            let body = template.body(id, at);
            // The collector's decoder: a single-member gzip reader.
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut json)
                .unwrap();
            let parsed: Report = serde_json::from_slice(&json).unwrap();
            let mut expected = report.clone();
            expected.report_id = id;
            expected.collected_at = at;
            assert_eq!(parsed, expected);
            assert!(
                parsed
                    .validate(&ward_shared::Limits::V1, Utc::now())
                    .is_ok()
            );
        }
    }
}
