//! What can go wrong with a destination, in words a user can act on.

/// Why an address cannot be used, or a storage request failed.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "Haul cannot write to {scheme}:// addresses. It writes to a folder, or to object storage: s3://bucket/prefix, gs://bucket/prefix or az://container/prefix."
    )]
    Unsupported { scheme: String },
    #[error(
        "“{0}” is not a storage address Haul can use: write it as s3://bucket/prefix, gs://bucket/prefix or az://container/prefix."
    )]
    BadAddress(String),
    /// A password, a SAS token or any query in the address: it would be kept in the history.
    #[error(
        "The storage address holds a password or a token. Haul keeps addresses in its history, so it takes storage credentials only from its Storage page (kept in this computer's keychain) or from the environment (for example AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY, GOOGLE_APPLICATION_CREDENTIALS), profile files and instance metadata: give the address without it."
    )]
    CredentialsInAddress,
    /// A sign-in saved in Haul covers the address but cannot be used (the keychain is locked, its secret gone).
    #[error("Haul cannot use the sign-in saved for {address}: {reason}")]
    SavedSignIn { address: String, reason: String },
    /// The store could not be set up from the address and the environment (a region, an account missing).
    #[error("Haul cannot use {address}: {reason}")]
    Setup { address: String, reason: String },
    #[error(
        "The storage refused Haul's credentials for {address} ({what}): check the credentials (on Haul's Storage page, or in the environment) and that they may {what} there, then try again."
    )]
    Refused { what: &'static str, address: String },
    /// An upload the storage no longer knows (aborted, or expired after days): it must start over.
    #[error("The storage no longer has the unfinished upload of {address}; Haul starts that file again.")]
    UploadGone { address: String },
    #[error(
        "{address} would need more than {} parts of {} MiB: Haul does not upload a single file that large.",
        crate::MAX_PARTS, crate::upload::PART_SIZE >> 20
    )]
    TooLarge { address: String },
    #[error(
        "Haul could not {what} {address}: {reason}. Check the address (its bucket or container must exist) and the storage's sign-in (on Haul's Storage page, or in the environment)."
    )]
    Failed { what: &'static str, address: String, reason: String },
}

impl DestinationError {
    pub(crate) fn from_store(what: &'static str, address: String, source: object_store::Error) -> Self {
        match source {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                Self::Refused { what, address }
            }
            other => {
                let text = without_queries(&other.to_string());
                // Some refusals come as a plain 403 with the service's code in its XML answer.
                if xml_code(&text).is_some_and(|c| REFUSALS.contains(&c.as_str())) {
                    return Self::Refused { what, address };
                }
                Self::Failed { what, address, reason: reason_of(&text) }
            }
        }
    }

    /// A stable code for the UI and the job's failure record.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } | Self::BadAddress(_) | Self::CredentialsInAddress => "invalid_destination",
            Self::Setup { .. } => "destination_setup",
            Self::SavedSignIn { .. } => "storage_sign_in",
            Self::Refused { .. } => "destination_refused",
            Self::UploadGone { .. } => "upload_gone",
            Self::TooLarge { .. } => "destination_too_large",
            Self::Failed { .. } => "destination",
        }
    }
}

/// The services' codes for credentials they do not accept (S3's, then Azure's).
const REFUSALS: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AuthorizationFailure",
    "AuthenticationFailed",
    "AuthorizationPermissionMismatch",
];

fn xml_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].trim().to_string())
}

/// A storage error in a sentence: the service's own error code and message where its XML answer is quoted
/// (S3 and Azure answer `<Code>NoSuchBucket</Code><Message>…</Message>`), else the first 600 characters.
fn reason_of(text: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let len = text[start..].find(close)?;
        Some(text[start..start + len].trim().to_string())
    };
    // A storage that never answered: the retries' technical account helps nobody.
    if text.contains("error sending request") || text.contains("Connection refused") || text.contains("dns error") {
        return "nothing answered at that address (check the endpoint, and that this computer can reach it)".into();
    }
    match (between("<Code>", "</Code>"), between("<Message>", "</Message>")) {
        (Some(code), Some(message)) => format!("the storage answered {code}: {}", first_line(&message)),
        (Some(code), None) => format!("the storage answered {code}"),
        _ => text.chars().take(600).collect(),
    }
}

/// The text with every web address's query cut (`?[query removed]`): an Azure SAS token travels in the query
/// of every request, and a request's address can be quoted in an error.
fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min() {
        let end =
            rest[start..].find(|c: char| c.is_whitespace() || "\"'<>)".contains(c)).map_or(rest.len(), |n| start + n);
        let url = &rest[start..end];
        out.push_str(&rest[..start]);
        match url.split_once('?') {
            Some((before, _)) => {
                out.push_str(before);
                out.push_str("?[query removed]");
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn first_line(text: &str) -> &str {
    text.split(['\n', '\r']).next().unwrap_or(text).trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_xml_answer_becomes_its_code_and_message() {
        let raw = "Generic S3 error: Error performing list request: Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>";
        assert_eq!(reason_of(raw), "the storage answered NoSuchBucket: The specified bucket does not exist");
        let azure = "<Error><Code>ContainerNotFound</Code><Message>The specified container does not exist.\nRequestId:1\nTime:2</Message></Error>";
        assert_eq!(reason_of(azure), "the storage answered ContainerNotFound: The specified container does not exist");
        assert_eq!(reason_of(&"x".repeat(900)).len(), 600);
        let unreachable = "Generic S3 error: Error performing GET http://127.0.0.1:9/b in 10.3s, after 10 retries, max_retries: 10, retry_timeout: 180s - HTTP error: error sending request";
        assert!(reason_of(unreachable).starts_with("nothing answered at that address"));
    }

    #[test]
    fn a_storage_that_does_not_accept_the_credentials_refuses_them() {
        let raw = "Error performing list request: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>AuthorizationFailure</Code><Message>Server failed to authenticate the request.</Message></Error>";
        let e = object_store::Error::Generic { store: "MicrosoftAzure", source: Box::new(std::io::Error::other(raw)) };
        assert!(matches!(DestinationError::from_store("list", "az://c".into(), e), DestinationError::Refused { .. }));
        let missing = "<Error><Code>NoSuchBucket</Code><Message>x</Message></Error>";
        let e = object_store::Error::Generic { store: "S3", source: Box::new(std::io::Error::other(missing)) };
        assert!(matches!(DestinationError::from_store("list", "s3://b".into(), e), DestinationError::Failed { .. }));
    }

    #[test]
    fn a_token_in_a_quoted_address_never_reaches_a_message() {
        let raw = "Error performing GET https://acct.blob.core.windows.net/c?restype=container&sv=2024&sig=SECRET%3D in 1s: connection refused (http://127.0.0.1:9/x?sig=OTHER)";
        let shown = without_queries(raw);
        assert!(!shown.contains("SECRET") && !shown.contains("OTHER"), "{shown}");
        assert!(shown.contains("https://acct.blob.core.windows.net/c?[query removed] in 1s"), "{shown}");
        assert!(shown.ends_with("http://127.0.0.1:9/x?[query removed])"), "{shown}");
        assert_eq!(without_queries("no address here"), "no address here");
    }
}
