//! ward-collector: receives agent reports over TLS, stores device state and history.

pub mod store;
