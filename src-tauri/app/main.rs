//! The Haul desktop app: a thin Tauri shell over the crates in src-tauri/crates.
//!
//! Commands turn IPC calls into crate calls and crate errors into `{code, message}`; logic that grows
//! here belongs in a crate.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod capabilities_check;
mod commands;
mod ipc_commands_ts;
mod ipc_error;
mod scheduled_run;
mod state;
mod tasks;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HAUL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();

    // Started by the system's scheduler: run the schedule and exit, no window.
    let args: Vec<String> = std::env::args().collect();
    match scheduled_run::requested(&args) {
        Some(Ok(id)) => std::process::exit(scheduled_run::run(id)),
        Some(Err(message)) => {
            eprintln!("haul-desktop: {message}");
            std::process::exit(2);
        }
        None => {}
    }

    let state = state::AppState::start();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .setup(|app| {
            commands::exports::tell_failed_schedules(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::startup::startup_status,
            commands::startup::move_database_aside,
            commands::servers::list_servers,
            commands::servers::add_server,
            commands::servers::update_server,
            commands::servers::remove_server,
            commands::servers::set_server_secret,
            commands::servers::set_server_ca_file,
            commands::network::set_server_proxy,
            commands::network::set_server_client_certificate,
            commands::servers::check_server_url,
            commands::servers::test_connection,
            commands::exports::preview_export,
            commands::exports::start_export,
            commands::exports::watch_export,
            commands::exports::resume_export,
            commands::exports::cancel_export,
            commands::exports::list_exports,
            commands::exports::rerun_export,
            commands::exports::export_text,
            commands::exports::open_export_folder,
            commands::exports::open_parquet_folder,
            commands::datasets::export_dataset,
            commands::datasets::open_dataset_folder,
            commands::exports::delete_export_files,
            commands::convert::convert_export,
            commands::convert::convert_export_to_delta,
            commands::convert::vacuum_delta_tables,
            commands::convert::cancel_conversion,
            commands::tables::list_views,
            commands::tables::read_view,
            commands::tables::preview_view,
            commands::tables::preview_view_in_folder,
            commands::tables::make_tables,
            commands::tables::cancel_tables,
            commands::tables::open_tables_folder,
            commands::browse::browse_open,
            commands::browse::browse_index,
            commands::browse::browse_page,
            commands::browse::browse_rows,
            commands::browse::browse_save_csv,
            commands::browse::browse_resource,
            commands::browse::browse_find,
            commands::browse::browse_lookup,
            commands::browse::browse_find_id,
            commands::browse::browse_charts,
            commands::browse::browse_stop,
            commands::servers::test_sign_in,
            commands::servers::probe_server,
            commands::profiles::list_server_profiles,
            commands::profiles::set_server_profile,
            commands::groups::search_groups,
            commands::groups::list_pinned_groups,
            commands::groups::pin_group,
            commands::groups::unpin_group,
            commands::storage::list_storage_sign_ins,
            commands::storage::save_storage_sign_in,
            commands::storage::test_storage_sign_in,
            commands::storage::remove_storage_sign_in,
            commands::keys::list_keys,
            commands::keys::generate_key,
            commands::keys::import_key,
            commands::keys::key_jwks,
            commands::keys::delete_key,
            commands::keys::register_key_with_demo,
            commands::keys::save_key_jwks,
            commands::keys::key_public_pem,
            commands::keys::save_key_public_pem,
            commands::keys::sign_file_with_key,
            commands::exports::cancel_blocking_export,
            commands::compare::compare_exports,
            commands::schedules::schedule_export,
            commands::schedules::list_schedules,
            commands::schedules::remove_schedule,
        ])
        .run(tauri::generate_context!())
        .expect("the Haul window could not start");
}
