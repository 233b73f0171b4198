//! The haul-cli crate's integration tests as one test binary, each file a module: one link instead of one per file.
mod ca_file_flag;
mod config_file;
mod convert_command;
mod desktop_proxy;
mod export_command;
mod keys_command;
mod network_flags;
mod no_secrets_on_disk;
mod object_storage;
mod saved_server;
mod schedule_command;
mod secret_files;
mod sign_in_flags;
mod sim_command;
mod support;
mod tables_command;
