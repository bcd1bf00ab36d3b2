//! ward-collector: receives agent reports over TLS, stores device state and history.

pub mod api;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod charts;
pub mod cli;
pub mod config;
pub mod config_layers;
pub mod devices;
pub mod edge;
pub mod estate;
pub mod export;
pub mod import;
pub mod init;
pub mod intake;
pub mod metrics;
pub mod plan;
pub mod quickstart;
pub mod risk;
pub mod secrets;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;
