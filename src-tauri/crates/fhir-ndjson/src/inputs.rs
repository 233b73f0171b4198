//! Which NDJSON files a folder holds, of which resource type: the same answer for Convert and the Files page.

use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::NdjsonError;
use crate::json::{Parser, Peek};
use crate::lines::LineReader;
use crate::rule::unescaped;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// Size on disk (compressed for `.gz`): what progress counts.
    pub bytes: u64,
}

/// All the files of one resource type, in name order: they become one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInput {
    pub resource_type: String,
    pub files: Vec<InputFile>,
}

impl TypeInput {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Whether a file's name says NDJSON: `.ndjson`, `.jsonl`, either gzipped.
pub fn is_ndjson(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"].iter().any(|ext| name.ends_with(ext))
}

/// A resource type name as FHIR spells them: `Patient`, `ExplanationOfBenefit`.
pub fn looks_like_type(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// The files to read: each path is an NDJSON file or a folder whose NDJSON files (not those in subfolders
/// such as `error/`) are taken. Grouped by resource type ([`type_of`]), types and files in name order.
pub fn find_inputs(paths: &[PathBuf]) -> Result<Vec<TypeInput>, NdjsonError> {
    // (path, named by the user): a file found in a folder that holds no resources (Haul's own
    // log.ndjson, say) is passed over; a file named on its own must be one.
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| NdjsonError::read(path, e))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| NdjsonError::read(path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| NdjsonError::read(path, e))?;
                let p = entry.path();
                if entry.file_type().map(|t| t.is_file()).unwrap_or(false) && is_ndjson(&p) {
                    files.push((p, false));
                }
            }
        } else {
            files.push((path.clone(), true));
        }
    }
    if files.is_empty() {
        let shown = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(NdjsonError::NoInput { paths: shown });
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut by_type: Vec<TypeInput> = Vec::new();
    for (path, named) in files {
        let resource_type = match type_of(&path) {
            Ok(t) => t,
            Err(NdjsonError::UnknownType { .. }) if !named => continue,
            Err(e) => return Err(e),
        };
        let bytes = std::fs::metadata(&path).map_err(|e| NdjsonError::read(&path, e))?.len();
        let file = InputFile { path, bytes };
        match by_type.iter_mut().find(|t| t.resource_type == resource_type) {
            Some(t) => t.files.push(file),
            None => by_type.push(TypeInput { resource_type, files: vec![file] }),
        }
    }
    by_type.sort_by(|a, b| a.resource_type.cmp(&b.resource_type));
    Ok(by_type)
}

/// The type a file's name starts with: the part before the first `.`, `-` or `_` (`Observation.002.ndjson`).
pub fn type_from_name(path: &Path) -> Option<&str> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.split(['.', '-', '_']).next().unwrap_or("");
    looks_like_type(stem).then_some(stem)
}

/// The resource type a file holds: from its name ([`type_from_name`]), else its first non-blank line's
/// `resourceType` ([`resource_type_of`]).
pub fn type_of(path: &Path) -> Result<String, NdjsonError> {
    if let Some(t) = type_from_name(path) {
        return Ok(t.to_string());
    }
    // A first line longer than 64 MB is no resource to tell a type by.
    let mut lines = LineReader::new(BufReader::new(crate::open::open(path)?.take(64 << 20)));
    while let Some((_, line)) = lines.next_line().map_err(|e| NdjsonError::read(path, e))? {
        if crate::lines::is_blank(line) {
            continue;
        }
        if let Some(t) = resource_type_of(line).filter(|t| looks_like_type(t)) {
            return Ok(t);
        }
        break;
    }
    Err(NdjsonError::UnknownType { path: path.display().to_string() })
}

/// The top-level `resourceType` string of a line that is a JSON object; `None` otherwise.
pub fn resource_type_of(line: &[u8]) -> Option<String> {
    crate::rule::check_utf8(line).ok()?;
    let mut p = Parser::new(line);
    if p.peek().ok()? != Peek::Object {
        return None;
    }
    let mut found = None;
    let mut key = p.object_first().ok()?;
    while let Some(raw) = key {
        let name = if p.last_escaped() { unescaped(raw) } else { Cow::Borrowed(raw) };
        let peek = p.peek().ok()?;
        if found.is_none() && peek == Peek::String && *name == *b"resourceType" {
            let raw = p.known_bytes().ok()?;
            found = Some(String::from_utf8_lossy(&unescaped(raw)).into_owned());
        } else {
            p.known_skip(peek).ok()?;
        }
        key = p.object_next().ok()?;
    }
    p.finish().ok()?;
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_names_then_first_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("part1.ndjson"), "\n{\"resourceType\":\"Condition\"}\n").unwrap();
        std::fs::write(dir.path().join("Patient-1.ndjson"), "").unwrap();
        std::fs::write(dir.path().join("Patient_2.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("mystery.ndjson"), "hello\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "{\"resourceType\":\"Basic\"}\n").unwrap();
        std::fs::create_dir(dir.path().join("error")).unwrap();
        std::fs::write(dir.path().join("error/OperationOutcome.ndjson"), "{}\n").unwrap();
        std::fs::write(dir.path().join("log.ndjson"), "{\"eventId\":\"kickoff\"}\n").unwrap();
        let err = find_inputs(&[dir.path().join("mystery.ndjson")]).unwrap_err();
        assert!(matches!(err, NdjsonError::UnknownType { .. }));
        // In a folder, files that hold no resources (a log, say) are passed over.
        let inputs = find_inputs(&[dir.path().to_path_buf()]).unwrap();
        let types: Vec<(&str, usize)> = inputs.iter().map(|t| (t.resource_type.as_str(), t.files.len())).collect();
        assert_eq!(types, [("Condition", 1), ("Patient", 2)]);
        let none = find_inputs(&[dir.path().join("error/nothing")]).unwrap_err();
        assert!(none.to_string().starts_with("Haul could not read "), "{none}");
        let empty = tempfile::tempdir().unwrap();
        let none = find_inputs(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(none.to_string().starts_with("There are no NDJSON files"), "{none}");
    }

    #[test]
    fn the_resource_type_of_a_line() {
        assert_eq!(
            resource_type_of(br#"{"id":{"resourceType":"X"},"resourceType":"Pat\u0069ent"}"#).as_deref(),
            Some("Patient")
        );
        assert_eq!(resource_type_of(b"{\"resourceType\":\"Patient\"}\r\n").as_deref(), Some("Patient"));
        assert_eq!(resource_type_of(br#"{"resourceType":1}"#), None);
        assert_eq!(resource_type_of(br#"{"resourceType":"Patient""#), None);
        assert_eq!(resource_type_of(br#"[{"resourceType":"Patient"}]"#), None);
        assert!(looks_like_type("ExplanationOfBenefit") && !looks_like_type("patient") && !looks_like_type("Pa-t"));
    }
}
