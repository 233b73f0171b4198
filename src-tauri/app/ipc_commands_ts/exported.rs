//! Which Rust types have a ts-rs binding: every `#[ts(export)]` struct, enum and type alias under src-tauri.

use super::*;

/// A type with `#[ts(export)]` somewhere under src-tauri.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ExportedType {
    /// Its binding's name (`#[ts(rename = "...")]`, else the Rust name).
    pub(super) ts_name: String,
    pub(super) export_to: bool,
    pub(super) file: PathBuf,
}

/// Rust type name → the `#[ts(export)]` types of that name.
pub(super) type Exported = HashMap<String, Vec<ExportedType>>;

/// Every `#[ts(export)]` struct, enum and type alias in the app and in the crates' `src` folders.
pub(super) fn exported_types(root: &Path) -> Result<Exported, String> {
    let mut dirs = vec![root.join(APP_DIR)];
    let crates = root.join(CRATES_DIR);
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("could not list {}: {e}", crates.display()))?;
    dirs.extend(entries.flatten().map(|e| e.path().join("src")).filter(|p| p.is_dir()));
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&dir, &mut files)?;
    }
    let mut out = Exported::new();
    for file in files {
        let ast = parse(&file)?;
        collect_exported(&ast.items, &file, &mut out)?;
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("could not list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn collect_exported(items: &[Item], file: &Path, out: &mut Exported) -> Result<(), String> {
    for item in items {
        let (ident, attrs) = match item {
            Item::Struct(s) => (&s.ident, &s.attrs),
            Item::Enum(e) => (&e.ident, &e.attrs),
            Item::Type(t) => (&t.ident, &t.attrs),
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_exported(items, file, out)?;
                }
                continue;
            }
            _ => continue,
        };
        let (mut export, mut export_to, mut ts_name) = (false, false, ident.to_string());
        for attr in attrs.iter().filter(|a| a.path().is_ident("ts")) {
            let options = attr
                .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .map_err(|e| format!("could not read `#[ts(...)]` on `{ident}` in {}: {e}", file.display()))?;
            for option in options {
                match option {
                    Meta::Path(p) if p.is_ident("export") => export = true,
                    Meta::NameValue(v) if v.path.is_ident("export_to") => (export, export_to) = (true, true),
                    Meta::NameValue(v) if v.path.is_ident("rename") => {
                        ts_name = string_value(&v.value).unwrap_or(ts_name);
                    }
                    _ => {}
                }
            }
        }
        if export {
            out.entry(ident.to_string()).or_default().push(ExportedType {
                ts_name,
                export_to,
                file: file.to_path_buf(),
            });
        }
    }
    Ok(())
}
