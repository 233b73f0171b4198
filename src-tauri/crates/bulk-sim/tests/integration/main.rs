//! The bulk-sim crate's integration tests as one test binary, each file a module: one link instead of one per file.
mod common;
mod control_routes;
mod exports;
mod faults;
mod file_throttling;
mod files;
mod hostile_files;
mod hostile_server;
mod secret_and_static_auth;
mod smart;
mod timeline;
mod tls;
mod vendor_quirks;
