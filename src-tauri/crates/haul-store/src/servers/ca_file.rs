//! A server's CA certificate file: for hospitals and payers whose servers present certificates signed by the
//! organisation's own certificate authority, which this computer does not trust. The file stays where the
//! user keeps it (IT departments replace it when the authority is renewed); Haul stores its path, checks it
//! when it is chosen, and reads it again for every job (`read_ca_file`). Set on its own, after the server is
//! saved, like its profile.

use std::path::{Path, PathBuf};

use bulk_client::{CaBundleError, check_ca_certificates};

use super::{Server, ServerError};
use crate::db::Database;

/// Far above any CA bundle (the platform's own, with every public authority, is a few hundred KB): a bigger
/// file is the wrong file, and is not read into memory.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// Why a CA certificate file cannot be used. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error(
        "Haul cannot find the CA certificate file {}. Choose the file again (your IT department can give you a copy).",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("Haul cannot read the CA certificate file {}: {source}. Check that it is a file you may read.", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "{} is {} MB, far too large for a CA certificate file (those are a few KB). Choose the CA certificate your IT department gave you.",
        path.display(),
        bytes >> 20
    )]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error("The CA certificate file {} cannot be used. {source}", path.display())]
    Unusable { path: PathBuf, source: CaBundleError },
    /// Paths are stored as text; one that is not valid Unicode could not be found again.
    #[error(
        "Haul cannot keep the name of {}: it is not valid text. Move or rename the file so its path has only ordinary characters, then choose it again.",
        .0.display()
    )]
    NameNotText(PathBuf),
}

/// Reads a CA certificate file and checks that it holds at least one certificate: when the user chooses it,
/// and again whenever a job connects (the file may have been replaced or removed since).
pub fn read_ca_file(path: &Path) -> Result<Vec<u8>, CaFileError> {
    let unreadable = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => CaFileError::Missing(path.to_path_buf()),
        _ => CaFileError::Unreadable { path: path.to_path_buf(), source },
    };
    let bytes = std::fs::metadata(path).map_err(unreadable)?.len();
    if bytes > MAX_CA_FILE_BYTES {
        return Err(CaFileError::TooLarge { path: path.to_path_buf(), bytes });
    }
    let pem = std::fs::read(path).map_err(unreadable)?;
    check_ca_certificates(&pem).map_err(|source| CaFileError::Unusable { path: path.to_path_buf(), source })?;
    Ok(pem)
}

impl Database {
    /// Records (or clears, with `None`) the server's CA certificate file, after checking it. The path is kept
    /// absolute, as given: not resolved through links, so a link that IT points at a renewed file keeps
    /// working.
    pub fn set_server_ca_file(&self, id: i64, path: Option<&Path>) -> Result<Server, ServerError> {
        let stored = match path {
            None => None,
            Some(path) => {
                read_ca_file(path)?;
                let absolute = std::path::absolute(path)
                    .map_err(|source| CaFileError::Unreadable { path: path.to_path_buf(), source })?;
                let text = absolute.to_str().ok_or_else(|| CaFileError::NameNotText(absolute.clone()))?;
                Some(text.to_string())
            }
        };
        let changed = self
            .conn()
            .execute(
                "UPDATE servers SET ca_file = ?1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2",
                rusqlite::params![stored, id],
            )
            .map_err(|e| self.error(e))?;
        if changed == 0 {
            return Err(ServerError::NotFound(id));
        }
        self.get_server(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Keychain;
    use crate::servers::{AuthKind, ServerInput};

    fn ca_certificate_pem() -> String {
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }

    fn saved_server(db: &Database) -> Server {
        let input = ServerInput {
            name: "Hospital".into(),
            base_url: "https://fhir.hospital.example/r4".into(),
            auth: AuthKind::Open,
            ..Default::default()
        };
        db.add_server(&input).unwrap()
    }

    #[test]
    fn a_server_keeps_its_ca_file_through_edits_until_cleared() {
        let db = Database::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hospital-ca.pem");
        std::fs::write(&file, ca_certificate_pem()).unwrap();
        let server = saved_server(&db);
        assert_eq!(server.ca_file, None);

        let server = db.set_server_ca_file(server.id, Some(&file)).unwrap();
        assert_eq!(server.ca_file.as_deref(), file.to_str());
        let input = ServerInput { name: "Hospital (prod)".into(), ..ServerInput::default() };
        let input = ServerInput { base_url: server.base_url.clone(), ..input };
        let edited = db.update_server(&Keychain, server.id, &input).unwrap();
        assert_eq!(edited.ca_file, server.ca_file, "editing the form keeps the CA file");
        assert_eq!(db.get_server(server.id).unwrap().ca_file, server.ca_file);

        assert_eq!(db.set_server_ca_file(server.id, None).unwrap().ca_file, None);
        assert!(matches!(db.set_server_ca_file(999, None), Err(ServerError::NotFound(999))));
    }

    #[test]
    fn a_relative_path_is_kept_absolute() {
        let db = Database::open_in_memory().unwrap();
        let dir = tempfile::tempdir_in(".").unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_certificate_pem()).unwrap();
        let relative = Path::new(".").join(dir.path().file_name().unwrap()).join("ca.pem");
        let server = db.set_server_ca_file(saved_server(&db).id, Some(&relative)).unwrap();
        let stored = PathBuf::from(server.ca_file.unwrap());
        assert!(stored.is_absolute(), "{}", stored.display());
        assert_eq!(std::fs::read(&stored).unwrap(), std::fs::read(&relative).unwrap());
    }

    #[test]
    fn a_missing_or_wrong_file_is_refused_in_plain_words_and_nothing_is_stored() {
        let db = Database::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = saved_server(&db);

        let missing = dir.path().join("gone.pem");
        let err = db.set_server_ca_file(server.id, Some(&missing)).unwrap_err();
        assert!(matches!(err, ServerError::CaFile(CaFileError::Missing(_))), "{err:?}");
        assert!(err.to_string().starts_with("Haul cannot find the CA certificate file"), "{err}");
        assert!(err.to_string().contains("gone.pem"), "{err}");

        let notes = dir.path().join("notes.txt");
        std::fs::write(&notes, "call IT about the certificate").unwrap();
        let err = db.set_server_ca_file(server.id, Some(&notes)).unwrap_err();
        assert!(
            matches!(err, ServerError::CaFile(CaFileError::Unusable { source: CaBundleError::NoCertificate, .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("holds no certificate"), "{err}");

        let err = db.set_server_ca_file(server.id, Some(dir.path())).unwrap_err();
        assert!(matches!(err, ServerError::CaFile(CaFileError::Unreadable { .. })), "a folder: {err:?}");

        let huge = dir.path().join("video.pem");
        std::fs::File::create(&huge).unwrap().set_len(MAX_CA_FILE_BYTES + 1).unwrap();
        let err = db.set_server_ca_file(server.id, Some(&huge)).unwrap_err();
        assert!(matches!(err, ServerError::CaFile(CaFileError::TooLarge { .. })), "{err:?}");

        assert_eq!(db.get_server(server.id).unwrap().ca_file, None);
    }
}
