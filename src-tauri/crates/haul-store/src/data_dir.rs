//! The app-data folder: one place for the database (and, later, caches), shared by the app and the CLI.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Set this to keep Haul's data somewhere else (tests, portable installs).
pub const DATA_DIR_ENV: &str = "HAUL_DATA_DIR";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "Haul could not find a folder for its data on this system. Set {DATA_DIR_ENV} to a folder Haul may write to."
    )]
    NoHome,
    #[error(
        "Haul cannot write to its data folder {path}: {reason}. Check that the folder exists, that you own it and that the disk is not full, or set {DATA_DIR_ENV} to another folder."
    )]
    NotWritable { path: PathBuf, reason: String },
}

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `HAUL_DATA_DIR` if set, else the platform's data folder (XDG on Linux:
    /// `$XDG_DATA_HOME/haul`, usually `~/.local/share/haul`).
    pub fn locate() -> Result<Self, DataDirError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(Self { root: PathBuf::from(dir) });
        }
        let dirs = directories::ProjectDirs::from("org", "Haul", "Haul").ok_or(DataDirError::NoHome)?;
        Ok(Self { root: dirs.data_dir().to_path_buf() })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where new exports go unless the user picks a folder: `Documents/Haul exports`, or `exports/` in the
    /// data folder when `HAUL_DATA_DIR` is set (tests, portable installs) or there is no Documents folder.
    pub fn default_exports_root(&self) -> PathBuf {
        if std::env::var_os(DATA_DIR_ENV).is_none()
            && let Some(docs) = directories::UserDirs::new().and_then(|u| u.document_dir().map(Path::to_path_buf))
        {
            return docs.join("Haul exports");
        }
        self.root().join("exports")
    }

    /// Where the current datasets are kept (one folder per server and request, always the latest version of
    /// every resource): beside the exports, so BI tools find them where the user finds the exports.
    pub fn datasets_root(&self) -> PathBuf {
        self.default_exports_root().join("Current datasets")
    }

    /// Where the preview keeps its line indexes and inflated copies of `.gz` files: the platform's cache
    /// folder (`~/.cache/haul/preview`), or `cache/preview` in the data folder when `HAUL_DATA_DIR` is set.
    pub fn preview_cache_dir(&self) -> PathBuf {
        if std::env::var_os(DATA_DIR_ENV).is_none()
            && let Some(dirs) = directories::ProjectDirs::from("org", "Haul", "Haul")
        {
            return dirs.cache_dir().join("preview");
        }
        self.root().join("cache").join("preview")
    }

    pub fn database_path(&self) -> PathBuf {
        self.root.join("haul.db")
    }

    /// Creates the folder if needed and proves it is writable by writing a probe file, so the user hears
    /// about a read-only or full disk at start rather than halfway through saving something.
    pub fn ensure_writable(&self) -> Result<(), DataDirError> {
        let not_writable =
            |e: std::io::Error| DataDirError::NotWritable { path: self.root.clone(), reason: plain_io_reason(&e) };
        std::fs::create_dir_all(&self.root).map_err(not_writable)?;
        let probe = self.root.join(".write-probe");
        let result = std::fs::File::create(&probe).and_then(|mut f| f.write_all(b"ok"));
        let _ = std::fs::remove_file(&probe);
        result.map_err(not_writable)
    }
}

pub(crate) fn plain_io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied => "permission denied".into(),
        NotFound => "the folder does not exist".into(),
        ReadOnlyFilesystem => "the disk is read-only".into(),
        StorageFull => "the disk is full".into(),
        NotADirectory => "a file stands where the folder should be".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path().join("a/b"));
        dir.ensure_writable().unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert!(!tmp.path().join("a/b/.write-probe").exists());
    }

    #[test]
    fn a_file_in_the_way_is_reported_in_plain_words() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("data");
        std::fs::write(&blocker, b"not a folder").unwrap();
        let err = DataDir::at(blocker.join("haul")).ensure_writable().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("Haul cannot write to its data folder"), "{msg}");
        assert!(msg.contains(DATA_DIR_ENV), "{msg}");
    }
}
