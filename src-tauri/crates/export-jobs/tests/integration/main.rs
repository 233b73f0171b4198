//! The export-jobs crate's integration tests as one test binary, each file a module: one link instead of one per file.
mod demo_restart;
mod export_flow;
mod export_smart;
mod hostile;
mod hostile_smart;
mod monthly_dataset;
mod network;
mod one_line_rule;
mod private_ca;
mod registrations;
mod server_quirks;
mod sign_in_methods;
