//! ward-collector library.
