//! The bulk-client crate's integration tests as one test binary, each file a module: one link instead of one per file.
mod client_secret;
mod groups;
mod metadata;
mod network;
mod private_ca;
mod smart;
