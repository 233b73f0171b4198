//! The views Haul ships (`views/*.json` in the repository: readable, and a starting point for your own), and
//! reading view files a user adds.

use std::path::{Path, PathBuf};

use crate::view::{InvalidView, View};

/// What the app shows of a view before it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ViewInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub resource: String,
    pub columns: Vec<String>,
    /// The view file, for the user's own views; None for built-in ones.
    pub file: Option<String>,
}

impl View {
    pub fn info(&self, file: Option<&Path>) -> ViewInfo {
        ViewInfo {
            name: self.name.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            resource: self.resource.clone(),
            columns: self.columns.iter().map(|c| c.name.clone()).collect(),
            file: file.map(|f| f.display().to_string()),
        }
    }
}

/// (name, JSON) of every built-in view, in the order the app lists them.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("patient", include_str!("../views/patient.json")),
    ("condition", include_str!("../views/condition.json")),
    ("observation", include_str!("../views/observation.json")),
    ("encounter", include_str!("../views/encounter.json")),
    ("medication_request", include_str!("../views/medication_request.json")),
    ("immunization", include_str!("../views/immunization.json")),
    ("procedure", include_str!("../views/procedure.json")),
    ("coverage", include_str!("../views/coverage.json")),
    ("claim_line", include_str!("../views/claim_line.json")),
    ("eob_line", include_str!("../views/eob_line.json")),
];

/// Why a view file could not be used: the file is named in every case.
#[derive(Debug, thiserror::Error)]
pub enum ViewFileError {
    #[error("could not read the view file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the view file {path} is not valid JSON: {reason}")]
    NotJson { path: String, reason: String },
    #[error("the view in {path} cannot be used: {reason}")]
    Invalid { path: String, reason: InvalidView },
    #[error("there is no built-in view '{name}' (there are: {known})")]
    UnknownBuiltIn { name: String, known: String },
    #[error("two views are named '{name}': each view makes files of its name, so names must differ")]
    DuplicateName { name: String },
}

pub fn built_in(name: &str) -> Result<View, ViewFileError> {
    let Some((_, json)) = BUILT_IN.iter().find(|(n, _)| *n == name) else {
        return Err(ViewFileError::UnknownBuiltIn {
            name: name.to_string(),
            known: BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        });
    };
    let value = serde_json::from_str(json).expect("built-in views are JSON (tested)");
    Ok(View::from_json(&value, name).expect("built-in views are valid (tested)"))
}

/// A view file, or every `.json` file in a folder, in name order.
pub fn read_view_files(path: &Path) -> Result<Vec<View>, ViewFileError> {
    let read_err = |source| ViewFileError::Read { path: path.display().to_string(), source };
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    files.sort();
    files.iter().map(|f| read_view_file(f)).collect()
}

pub fn read_view_file(path: &Path) -> Result<View, ViewFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ViewFileError::Read { path: shown.clone(), source })?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ViewFileError::NotJson { path: shown.clone(), reason: e.to_string() })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "view".into());
    let fallback: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let mut view =
        View::from_json(&value, &fallback).map_err(|reason| ViewFileError::Invalid { path: shown, reason })?;
    // The name becomes file names: keep it to safe characters.
    view.name =
        view.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    Ok(view)
}

/// Refuses two views of one name (their files would overwrite each other).
pub fn check_names(views: &[View]) -> Result<(), ViewFileError> {
    let mut seen = std::collections::HashSet::new();
    for v in views {
        if !seen.insert(v.name.as_str()) {
            return Err(ViewFileError::DuplicateName { name: v.name.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_view_is_valid() {
        for (name, _) in super::BUILT_IN {
            let v = super::built_in(name).unwrap();
            assert_eq!(&v.name, name);
            assert!(v.description.is_some(), "{name} has a description for the app");
        }
    }
}
