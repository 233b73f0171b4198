//! The export folder: the one place that knows its layout. Outputs `Type.NNN.ndjson` (manifest order per
//! type), `error/…`, `deleted/…`, `quarantine/<file>`, `manifest.json` (the server's, as received),
//! `haul-report.json` (what became of each file), `log.ndjson`, `parquet/`, `group-members.json`, `<file>.part` while a file
//! downloads and `<file>.compacting` while its bad lines are taken out. The runner writes through it, the app and the CLI name and delete
//! folders through it, so "what is ours" has a single answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bulk_client::Manifest;
use haul_store::{FileKind, NewFile};

/// Why a folder cannot be used (or deleted) as an export folder.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(
        "Haul cannot write to the export folder {path}: {source}. Choose a folder you can write to, with free space."
    )]
    Unwritable { path: PathBuf, source: std::io::Error },
    #[error("The folder {} is not empty. Choose a new or empty folder, so no earlier export is overwritten.", .0.display())]
    NotEmpty(PathBuf),
    #[error(
        "{} holds files Haul did not write, so Haul will not delete it. Delete it yourself if you are sure.", .0.display()
    )]
    NotOurs(PathBuf),
    #[error("Haul could not delete {path}: {source}")]
    Delete { path: PathBuf, source: std::io::Error },
    #[error(
        "“{0}” is an address, not a folder on this computer. Haul writes Parquet and tables to folders only, and \
         exports to a folder or to object storage (s3://, gs://, az://): give a folder path."
    )]
    NotAFolder(String),
}

/// Refuses a destination that is a URL (`s3://bucket/prefix`, `https://…`, `file://…`) rather than a folder
/// path: taken as a path it would make a local folder named `s3:`, and the user would believe the data went to
/// storage. A Windows drive (`C:\…`, `C:/…`) is a path.
pub fn local_folder(path: &Path) -> Result<(), FolderError> {
    let text = path.to_string_lossy();
    if let Some((scheme, _)) = text.split_once("://") {
        let is_scheme = scheme.len() > 1
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if is_scheme {
            return Err(FolderError::NotAFolder(text.into_owned()));
        }
    }
    Ok(())
}

/// Where an export's files go, as the user gave it (the command line's `--out`, the Export page's folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    Folder(PathBuf),
    /// Object storage (`s3://…`, `gs://…`, `az://…`), its address as [`object_destination::Destination`]
    /// writes it.
    Storage(String),
}

/// One rule for both: an object storage address Haul can write to is checked (nothing opened or sent: its
/// credentials are the plan's business); any other text must be a folder path (see [`local_folder`]).
pub fn export_target(text: &str) -> Result<ExportTarget, crate::PlanError> {
    if object_destination::is_object_address(text) {
        return Ok(ExportTarget::Storage(object_destination::normalize(text)?));
    }
    let path = PathBuf::from(text.trim());
    local_folder(&path)?;
    Ok(ExportTarget::Folder(path))
}

const MANIFEST: &str = "manifest.json";
const REPORT: &str = "haul-report.json";
const LOG: &str = "log.ndjson";
const LOCK: &str = ".haul-export.lock";
const QUARANTINE: &str = "quarantine";
const PARQUET: &str = "parquet";
const ERROR_DIR: &str = "error";
const DELETED_DIR: &str = "deleted";
const GROUP_MEMBERS: &str = export_compare::GROUP_MEMBERS_FILE;

/// An export folder (absolute path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFolder {
    root: PathBuf,
}

impl ExportFolder {
    /// A folder an export may start in: new or empty (created), as an absolute path, so that resuming from
    /// anywhere finds it.
    pub fn prepare(out: &Path) -> Result<Self, FolderError> {
        local_folder(out)?;
        let unwritable = |source| FolderError::Unwritable { path: out.to_path_buf(), source };
        if out.exists() {
            let mut entries = std::fs::read_dir(out).map_err(unwritable)?;
            if entries.next().is_some() {
                return Err(FolderError::NotEmpty(out.to_path_buf()));
            }
        } else {
            std::fs::create_dir_all(out).map_err(unwritable)?;
        }
        Ok(Self { root: std::fs::canonicalize(out).map_err(unwritable)? })
    }

    /// The folder of an export that exists already (a job's `out_dir`).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { root: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A file of the export, by its name in the job (`Patient.000.ndjson`, `error/…`).
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Where a file is downloaded to before it is verified.
    pub fn part(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.part"))
    }

    /// A downloaded file while its bad lines are taken out in place. Found after a crash, it is neither the
    /// download nor the result: it is discarded and the file downloaded again.
    pub fn compacting(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.compacting"))
    }

    /// Where a file's bad lines are set aside.
    pub fn quarantine(&self, name: &str) -> PathBuf {
        self.root.join(QUARANTINE).join(name)
    }

    pub fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    /// What Haul did with each file of the manifest.
    pub fn report(&self) -> PathBuf {
        self.root.join(REPORT)
    }

    pub fn log(&self) -> PathBuf {
        self.root.join(LOG)
    }

    /// The lock file one runner holds while it works on the export.
    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// The group's members when the export finished (a JSON list of patient ids), kept so the current
    /// dataset can be rebuilt from the export folders alone.
    pub fn group_members(&self) -> PathBuf {
        self.root.join(GROUP_MEMBERS)
    }

    /// Where Convert writes the export's Parquet tables by default.
    pub fn parquet(&self) -> PathBuf {
        self.root.join(PARQUET)
    }

    /// The server's error files (OperationOutcomes).
    pub fn error_dir(&self) -> PathBuf {
        self.root.join(ERROR_DIR)
    }

    /// Creates the subfolders that the job's files need.
    pub fn create_subfolders(&self, names: &[&str]) -> Result<(), FolderError> {
        for dir in [ERROR_DIR, DELETED_DIR] {
            if names.iter().any(|n| n.starts_with(&format!("{dir}/"))) {
                let path = self.root.join(dir);
                std::fs::create_dir_all(&path).map_err(|source| FolderError::Unwritable { path, source })?;
            }
        }
        Ok(())
    }

    /// The folder was written by Haul and holds nothing else: the only case in which Haul deletes it.
    pub fn is_only_ours(&self) -> bool {
        let ours = [LOG, MANIFEST, LOCK].iter().any(|n| self.root.join(n).exists());
        let only_export_files = std::fs::read_dir(&self.root).map(|entries| {
            entries.flatten().all(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.ends_with(".ndjson")
                    || name.ends_with(".part")
                    || name.ends_with(".tmp")
                    || name.ends_with(".compacting")
                    || [MANIFEST, REPORT, LOG, LOCK, ERROR_DIR, DELETED_DIR, QUARANTINE, PARQUET, GROUP_MEMBERS]
                        .contains(&name.as_str())
            })
        });
        ours && matches!(only_export_files, Ok(true))
    }

    /// Deletes the folder, only when [`Self::is_only_ours`]: a mistyped path never costs the user other files.
    /// A folder that is gone already is fine.
    pub fn delete(&self) -> Result<(), FolderError> {
        if !self.root.exists() {
            return Ok(());
        }
        if !self.is_only_ours() {
            return Err(FolderError::NotOurs(self.root.clone()));
        }
        std::fs::remove_dir_all(&self.root).map_err(|source| FolderError::Delete { path: self.root.clone(), source })
    }
}

/// A resource type as a safe file-name part (a hostile manifest must not write outside the folder). Names
/// Windows reserves for devices (`CON`, `NUL`, `COM1`…, whatever follows the dot) get a leading `_`.
fn safe_type(t: &str) -> String {
    let clean: String = t.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
    if clean.is_empty() {
        return "Unknown".into();
    }
    let lower = clean.to_ascii_lowercase();
    let device = matches!(lower.as_str(), "con" | "prn" | "aux" | "nul")
        || (lower.len() == 4
            && (lower.starts_with("com") || lower.starts_with("lpt"))
            && lower.as_bytes()[3].is_ascii_digit());
    if device { format!("_{clean}") } else { clean }
}

/// The job's files for a manifest: `Type.NNN.ndjson` (manifest order within each type), `error/…`, `deleted/…`.
pub fn file_names(manifest: &Manifest) -> Vec<NewFile> {
    let mut counters: HashMap<(FileKind, String), u32> = HashMap::new();
    let mut out = Vec::new();
    let lists = [
        (FileKind::Output, &manifest.output),
        (FileKind::Error, &manifest.error),
        (FileKind::Deleted, &manifest.deleted),
    ];
    for (kind, files) in lists {
        for f in files {
            let t = safe_type(&f.resource_type);
            // Numbered per type regardless of case: `patient` and `Patient` share one sequence, so their files
            // never differ by case alone (one file on macOS and Windows).
            let n = counters.entry((kind, t.to_ascii_lowercase())).or_default();
            let prefix = match kind {
                FileKind::Output => String::new(),
                FileKind::Error => format!("{ERROR_DIR}/"),
                FileKind::Deleted => format!("{DELETED_DIR}/"),
            };
            out.push(NewFile {
                kind,
                resource_type: f.resource_type.clone(),
                url: f.url.clone(),
                name: format!("{prefix}{t}.{n:03}.ndjson"),
                expected_count: f.count,
            });
            *n += 1;
        }
    }
    out
}

/// A folder name for an export: the server's name and what is exported (letters, digits, dashes) and the
/// local date and time.
pub fn folder_name(server_name: &str, what: &str) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_alphanumeric() {
                out.extend(c.to_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        out.trim_end_matches('-').chars().take(40).collect::<String>()
    };
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let stamp = now
        .format(time::macros::format_description!("[year]-[month]-[day]_[hour][minute][second]"))
        .unwrap_or_default();
    [slug(server_name), slug(what), stamp].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_")
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_address_is_not_a_folder() {
        for url in [
            "s3://bucket/prefix",
            "az://container/x",
            "gs://b",
            "https://host/x",
            "file:///tmp/x",
            "abfss://c@a.dfs.core.windows.net/p",
        ] {
            let e = super::local_folder(Path::new(url)).unwrap_err();
            assert!(e.to_string().contains("is an address, not a folder"), "{url}: {e}");
        }
        for path in ["/tmp/exports", "exports/2026-11", "C:/Users/me/exports", "weird:name/x", "a://b"] {
            assert!(super::local_folder(Path::new(path)).is_ok(), "{path}");
        }
        // Refused before anything is created (taken as a path it would have made a folder `s3:`).
        assert!(matches!(ExportFolder::prepare(Path::new("s3://bucket/prefix")), Err(FolderError::NotAFolder(_))));
        assert!(!Path::new("s3:").exists());
    }

    use super::*;

    #[test]
    fn file_names_follow_manifest_order_per_type_and_stay_inside_the_folder() {
        let m = Manifest::parse(
            br#"{"transactionTime":"t","output":[{"type":"Patient","url":"https://x/1"},{"type":"Observation","url":"https://x/2"},
            {"type":"Patient","url":"https://x/3"},{"type":"../../etc/passwd","url":"https://x/4"}],
            "error":[{"type":"OperationOutcome","url":"https://x/5"}],"deleted":[{"type":"Bundle","url":"https://x/6"}]}"#,
        )
        .unwrap();
        let names: Vec<String> = file_names(&m).into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "Patient.000.ndjson",
                "Observation.000.ndjson",
                "Patient.001.ndjson",
                "etcpasswd.000.ndjson",
                "error/OperationOutcome.000.ndjson",
                "deleted/Bundle.000.ndjson"
            ]
        );
    }

    #[test]
    fn file_names_differ_beyond_case_and_avoid_device_names() {
        let m = Manifest::parse(
            br#"{"transactionTime":"t","output":[{"type":"Patient","url":"https://x/1"},{"type":"patient","url":"https://x/2"},
            {"type":"CON","url":"https://x/3"},{"type":"com1","url":"https://x/4"},{"type":"Console","url":"https://x/5"}]}"#,
        )
        .unwrap();
        let names: Vec<String> = file_names(&m).into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            ["Patient.000.ndjson", "patient.001.ndjson", "_CON.000.ndjson", "_com1.000.ndjson", "Console.000.ndjson"]
        );
        let lower: std::collections::HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(lower.len(), names.len());
    }

    #[test]
    fn folders_must_be_new_or_empty_and_names_read_well() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = ExportFolder::prepare(&dir.path().join("a/b")).unwrap();
        assert!(fresh.path().is_absolute() && fresh.path().is_dir());
        std::fs::write(fresh.file("x"), "1").unwrap();
        assert!(matches!(ExportFolder::prepare(fresh.path()), Err(FolderError::NotEmpty(_))));
        let name = folder_name("Demo server (built in)", "group aco-north");
        assert!(name.starts_with("demo-server-built-in_group-aco-north_20"), "{name}");
    }

    #[test]
    fn only_a_folder_holding_nothing_but_an_export_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let export = ExportFolder::prepare(&dir.path().join("export")).unwrap();
        std::fs::write(export.log(), "{}\n").unwrap();
        std::fs::write(export.file("Patient.000.ndjson"), "{}\n").unwrap();
        std::fs::create_dir_all(export.parquet()).unwrap();
        std::fs::create_dir_all(export.quarantine("x").parent().unwrap()).unwrap();
        std::fs::write(export.file("notes.docx"), "mine").unwrap();
        assert!(matches!(export.delete(), Err(FolderError::NotOurs(_))));
        assert!(export.file("notes.docx").exists(), "nothing was deleted");
        std::fs::remove_file(export.file("notes.docx")).unwrap();
        export.delete().unwrap();
        assert!(!export.path().exists());
        export.delete().unwrap();

        // A folder of NDJSON files that Haul did not write (no log, manifest or lock) is not Haul's.
        let theirs = ExportFolder::prepare(&dir.path().join("theirs")).unwrap();
        std::fs::write(theirs.file("Patient.ndjson"), "{}\n").unwrap();
        assert!(matches!(theirs.delete(), Err(FolderError::NotOurs(_))));
    }

    #[test]
    fn the_layout_has_one_home() {
        let f = ExportFolder::at("/exports/x");
        assert_eq!(
            f.part("error/OperationOutcome.000.ndjson"),
            Path::new("/exports/x/error/OperationOutcome.000.ndjson.part")
        );
        assert_eq!(f.quarantine("Patient.000.ndjson"), Path::new("/exports/x/quarantine/Patient.000.ndjson"));
        assert_eq!(f.parquet(), Path::new("/exports/x/parquet"));
        assert_eq!(f.manifest(), Path::new("/exports/x/manifest.json"));
    }
}
