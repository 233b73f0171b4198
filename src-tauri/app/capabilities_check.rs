//! The three lists of app commands agree: the handlers (`generate_handler!` in main.rs), the commands build.rs
//! declares, and the main window's permissions (capabilities/main.json). A command missing from the last is
//! refused at run time, which no other test would notice until a user pressed its button.
#![cfg(test)]

use std::collections::BTreeSet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The quoted names in build.rs' `COMMANDS` array.
fn declared() -> BTreeSet<String> {
    let text = read("src-tauri/app/build.rs");
    let start = text.find("const COMMANDS").expect("build.rs declares COMMANDS");
    let end = start + text[start..].find("];").expect("COMMANDS ends");
    text[start..end].split('"').skip(1).step_by(2).map(str::to_string).collect()
}

/// The function names in main.rs' `generate_handler![…]`.
fn handled() -> BTreeSet<String> {
    let text = read("src-tauri/app/main.rs");
    let start = text.find("generate_handler![").expect("main.rs registers handlers");
    let end = start + text[start..].find(']').expect("the list ends");
    text[start + "generate_handler![".len()..end]
        .split(',')
        .map(|path| path.trim().rsplit("::").next().unwrap_or_default().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The app commands the main window may call, as command names.
fn permitted() -> BTreeSet<String> {
    let json: serde_json::Value = serde_json::from_str(&read("src-tauri/capabilities/main.json")).unwrap();
    json["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|kebab| kebab.replace('-', "_"))
        .collect()
}

#[test]
fn every_command_is_declared_handled_and_permitted() {
    assert_eq!(handled(), declared(), "main.rs' handlers and build.rs' COMMANDS differ");
    assert_eq!(permitted(), declared(), "capabilities/main.json's allow- entries and build.rs' COMMANDS differ");
}
