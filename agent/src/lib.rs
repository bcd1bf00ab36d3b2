//! ward-agent library.
