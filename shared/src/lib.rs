//! Ward's wire types: the report an agent (or an importer) produces and the API messages the
//! agent and the collector exchange.
//!
//! Wire compatibility rules (see `docs/wire-protocol.md`):
//! - Paths are versioned (`/api/v1/...`); the report carries [`SCHEMA_VERSION`].
//! - Every field a platform may not know is an `Option` or an empty list, with `#[serde(default)]`,
//!   so an older collector reads a newer agent's report and the other way round.
//! - Wire types never use `deny_unknown_fields`.
//! - Golden payloads under `shared/tests/golden/` are only ever added, never edited.
//!
//! Architecture invariant: this crate holds data and validation only; no networking, storage,
//! async runtime or OS access.

pub mod api;
pub mod report;
pub mod validate;

pub use report::*;
pub use validate::{Limits, ValidationError};

/// The report schema this build writes and the newest it accepts.
pub const SCHEMA_VERSION: u32 = 1;
