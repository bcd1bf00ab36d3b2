//! ward-agent: collect -> report -> send or spool.

pub mod client;
pub mod collect;
pub mod config;
/// The collector's config layering (file, then `WARD_*`, then `--set`), compiled here too.
#[path = "../../collector/src/config_layers.rs"]
pub mod config_layers;
pub mod enroll;
pub mod run;
pub mod service;
pub mod spool;
pub mod state;
