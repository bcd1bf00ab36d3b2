//! ward-agent: collect -> report -> send or spool.

pub mod client;
pub mod collect;
pub mod config;
pub mod enroll;
pub mod run;
pub mod service;
pub mod spool;
pub mod state;
