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
        "The storage address holds a password or a token. Haul keeps addresses in its history, so it takes storage credentials only from the environment (for example AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY, GOOGLE_APPLICATION_CREDENTIALS), profile and instance metadata: give the address without it."
    )]
    CredentialsInAddress,
    /// The store could not be set up from the address and the environment (a region, an account missing).
    #[error("Haul cannot use {address}: {reason}")]
    Setup { address: String, reason: String },
    #[error(
        "The storage refused Haul's credentials for {address} ({what}): check the credentials in the environment (and that they may {what} there), then try again."
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
        "Haul could not {what} {address}: {reason}. Check the address (its bucket or container must exist) and the storage settings in the environment."
    )]
    Failed { what: &'static str, address: String, reason: String },
}

impl DestinationError {
    pub(crate) fn from_store(what: &'static str, address: String, source: object_store::Error) -> Self {
        match source {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                Self::Refused { what, address }
            }
            other => Self::Failed { what, address, reason: reason_of(&other.to_string()) },
        }
    }

    /// A stable code for the UI and the job's failure record.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } | Self::BadAddress(_) | Self::CredentialsInAddress => "invalid_destination",
            Self::Setup { .. } => "destination_setup",
            Self::Refused { .. } => "destination_refused",
            Self::UploadGone { .. } => "upload_gone",
            Self::TooLarge { .. } => "destination_too_large",
            Self::Failed { .. } => "destination",
        }
    }
}

/// A storage error in a sentence: the service's own error code and message where its XML answer is quoted
/// (S3 and Azure answer `<Code>NoSuchBucket</Code><Message>…</Message>`), else the first 600 characters.
fn reason_of(text: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let len = text[start..].find(close)?;
        Some(text[start..start + len].trim().to_string())
    };
    match (between("<Code>", "</Code>"), between("<Message>", "</Message>")) {
        (Some(code), Some(message)) => format!("the storage answered {code}: {}", first_line(&message)),
        (Some(code), None) => format!("the storage answered {code}"),
        _ => text.chars().take(600).collect(),
    }
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
    }
}
