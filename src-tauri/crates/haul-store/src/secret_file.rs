//! Secrets kept in files, for a computer without a keychain (a server VM, a scheduled job): a client secret,
//! a bearer token or a SMART private key, read each time a job signs in, only from a file other users of the
//! computer cannot read, and held in memory only. Haul keeps the file's path, never its content.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

/// Larger than any secret or private key (an RSA 4096 PEM is about 3.3 KB).
const MAX_SECRET_FILE: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("Haul could not read the secret file {path}: {source}.")]
    Unreadable { path: String, source: std::io::Error },
    /// Group or others may read (or write) it: anyone on the computer could sign in as this client.
    #[error(
        "The secret file {path} can be read by other users of this computer (its permissions are {mode:03o}). Make it private with `chmod 600 {path}`, then try again."
    )]
    NotPrivate { path: String, mode: u32 },
    #[error("The secret file {path} is empty.")]
    Empty { path: String },
    #[error("The secret file {path} is larger than 64 KiB: it is not a secret or a key file.")]
    TooLarge { path: String },
}

/// The whole file, checked first: a regular file, private to its owner (on Unix: no permission for group or
/// others), at most 64 KiB, not empty.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    let shown = path.display().to_string();
    let unreadable = |source| SecretFileError::Unreadable { path: shown.clone(), source };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(unreadable(std::io::Error::other("it is not a file")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::NotPrivate { path: shown, mode });
        }
    }
    if meta.len() > MAX_SECRET_FILE {
        return Err(SecretFileError::TooLarge { path: shown });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.by_ref().take(MAX_SECRET_FILE + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(SecretFileError::TooLarge { path: shown });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SecretFileError::Empty { path: shown });
    }
    Ok(bytes)
}

/// A client secret or bearer token from a file: its text, without the line end an editor adds.
pub fn read_secret_text(path: &Path) -> Result<Zeroizing<String>, SecretFileError> {
    let bytes = read_secret_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SecretFileError::Unreadable {
        path: path.display().to_string(),
        source: std::io::Error::other("it is not text"),
    })?;
    Ok(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, content: &[u8], mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn only_a_private_file_of_reasonable_size_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(dir.path(), "secret", b"s3cr3t-value\n", 0o600);
        assert_eq!(read_secret_text(&good).unwrap().as_str(), "s3cr3t-value");
        assert_eq!(read_secret_text(&file(dir.path(), "ro", b"v", 0o400)).unwrap().as_str(), "v");

        let open = file(dir.path(), "open", b"s3cr3t-value", 0o644);
        let e = read_secret_text(&open).unwrap_err();
        assert!(matches!(e, SecretFileError::NotPrivate { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600") && !e.to_string().contains("s3cr3t"), "{e}");
        assert!(matches!(
            read_secret_text(&file(dir.path(), "g", b"x", 0o640)),
            Err(SecretFileError::NotPrivate { .. })
        ));

        assert!(matches!(
            read_secret_text(&file(dir.path(), "empty", b" \n", 0o600)),
            Err(SecretFileError::Empty { .. })
        ));
        let big = vec![b'a'; (MAX_SECRET_FILE + 1) as usize];
        assert!(matches!(
            read_secret_text(&file(dir.path(), "big", &big, 0o600)),
            Err(SecretFileError::TooLarge { .. })
        ));
        assert!(matches!(read_secret_text(&dir.path().join("missing")), Err(SecretFileError::Unreadable { .. })));
        assert!(matches!(read_secret_text(dir.path()), Err(SecretFileError::Unreadable { .. })));
    }
}
