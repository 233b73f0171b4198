//! The generator's own rules: type mapping, loud failures, argument names.
use super::*;

fn mapper_for<'a>(
    uses: &'a HashMap<String, Vec<String>>,
    exported: &'a Exported,
    imports: &'a mut Imports,
) -> TypeMapper<'a> {
    TypeMapper { uses, exported, out_dir: Path::new("/nonexistent"), imports }
}

fn ts(ty: &str) -> Result<String, String> {
    let file: syn::File = syn::parse_str("use tauri::ipc::Channel; use serde_json::Value as Json;").unwrap();
    let uses = use_map(&file);
    let exported = Exported::from([(
        "Server".to_string(),
        vec![ExportedType { ts_name: "Server".into(), export_to: false, file: PathBuf::new() }],
    )]);
    let mut imports = Imports::default();
    mapper_for(&uses, &exported, &mut imports).map(&syn::parse_str(ty).unwrap())
}

#[test]
fn rust_types_map_to_typescript() {
    assert_eq!(ts("u64").unwrap(), "number");
    assert_eq!(ts("&str").unwrap(), "string");
    assert_eq!(ts("Option<Vec<i64>>").unwrap(), "Array<number> | null");
    assert_eq!(ts("Vec<Option<String>>").unwrap(), "Array<string | null>");
    assert_eq!(ts("Channel<Server>").unwrap(), "Channel<Server>");
    assert_eq!(ts("Json").unwrap(), "unknown");
    assert_eq!(ts("()").unwrap(), "null");
}

#[test]
fn unknown_shapes_fail() {
    assert!(ts("HashMap<String, u64>").unwrap_err().contains("generic type"));
    assert!(ts("(u64, String)").unwrap_err().contains("no TypeScript mapping"));
    assert!(ts("Vec<u8, u8>").unwrap_err().contains("one type argument"));
    assert!(ts("NotExported").unwrap_err().contains("Derive `ts_rs::TS` on it and add `#[ts(export)]`"));
}

const COMMANDS: &str = "use tauri::State;
    use crate::ipc_error::IpcError;
    /// Line one.
    #[tauri::command]
    pub async fn some_command(state: State<'_, AppState>, app: tauri::AppHandle, page_url: Option<String>,
        r#type: u32) -> Result<Vec<Server>, IpcError> { todo!() }
    #[tauri::command(rename_all = \"snake_case\")]
    pub fn snake(page_url: String) {}";

#[test]
fn commands_read_like_tauri_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rs"), COMMANDS).unwrap();
    let exported = Exported::from([(
        "Server".to_string(),
        vec![ExportedType { ts_name: "Server".into(), export_to: false, file: PathBuf::new() }],
    )]);
    let mut imports = Imports::default();
    let mut files = Files::default();
    let mut read = |name: &str| {
        let path: syn::Path = syn::parse_str(name).unwrap();
        command(&mut files, dir.path(), &path, &exported, dir.path(), &mut imports).unwrap()
    };
    let c = read("some_command");
    assert_eq!(c.args, [("pageUrl".to_string(), "string | null".to_string()), ("type".into(), "number".into())]);
    assert_eq!(c.result, "Array<Server>");
    assert_eq!(c.docs, ["Line one."]);
    let c = read("snake");
    assert_eq!(c.args, [("page_url".to_string(), "string".to_string())]);
    assert_eq!(c.result, "null");
    assert!(
        render(&BTreeMap::from([(c.name.clone(), c)]), &imports)
            .contains("  snake: { args: { page_url: string }, result: null },\n")
    );
}
