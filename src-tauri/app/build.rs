// Tauri's build step, with two project-specific settings:
// - capabilities live under src-tauri/ (this package's root is the repository root);
// - every app command is declared, so a command the UI may call needs an explicit permission.
const COMMANDS: &[&str] = &[
    "startup_status",
    "move_database_aside",
    "list_servers",
    "add_server",
    "update_server",
    "remove_server",
    "set_server_secret",
    "set_server_ca_file",
    "set_server_proxy",
    "set_server_client_certificate",
    "check_server_url",
    "test_connection",
    "preview_export",
    "start_export",
    "watch_export",
    "resume_export",
    "cancel_export",
    "list_exports",
    "rerun_export",
    "export_text",
    "open_export_folder",
    "open_parquet_folder",
    "export_dataset",
    "open_dataset_folder",
    "delete_export_files",
    "convert_export",
    "convert_export_to_delta",
    "vacuum_delta_tables",
    "cancel_conversion",
    "list_views",
    "read_view",
    "preview_view",
    "preview_view_in_folder",
    "make_tables",
    "cancel_tables",
    "open_tables_folder",
    "browse_open",
    "browse_index",
    "browse_page",
    "browse_rows",
    "browse_save_csv",
    "browse_resource",
    "browse_find",
    "browse_lookup",
    "browse_find_id",
    "browse_charts",
    "browse_stop",
    "test_sign_in",
    "probe_server",
    "list_server_profiles",
    "set_server_profile",
    "search_groups",
    "list_pinned_groups",
    "pin_group",
    "unpin_group",
    "list_storage_sign_ins",
    "save_storage_sign_in",
    "test_storage_sign_in",
    "remove_storage_sign_in",
    "list_keys",
    "generate_key",
    "import_key",
    "key_jwks",
    "delete_key",
    "register_key_with_demo",
    "save_key_jwks",
    "key_public_pem",
    "save_key_public_pem",
    "sign_file_with_key",
    "cancel_blocking_export",
    "compare_exports",
    "schedule_export",
    "list_schedules",
    "remove_schedule",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let dist = std::path::Path::new("ui/dist/index.html");
    if !dist.exists() {
        panic!(
            "\n\nThe web UI is not built yet (ui/dist/index.html is missing).\n\
             Build it first:  npm --prefix ui ci && npm --prefix ui run build\n\
             (`make app` and `make test` do this for you.)\n\n"
        );
    }
    println!("cargo:rerun-if-changed=ui/dist");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}
