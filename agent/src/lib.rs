//! ward-agent: collect -> report -> send or spool.

pub mod collect;
