//! Why a TLS handshake refused a server's certificate, so the message can say what to do: add the
//! organisation's CA (unknown issuer), have the server's administrators renew it (expired), or check the
//! address (issued for another name). Read from rustls' own error where the chain reaches it, and by rustls'
//! names in the chain's text where it does not (a wrapper that keeps only text, or a rustls version other
//! than ours under reqwest).

use std::error::Error;

use rustls::CertificateError;

/// What is wrong with a server's certificate, among the cases a user can act on differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateProblem {
    /// Signed by an authority this computer does not trust: an organisation's own CA, or self-signed.
    UnknownIssuer,
    Expired,
    /// Its validity starts in the future: usually this computer's clock is wrong.
    NotYetValid,
    /// Issued for other names than the address connected to; those names, where the error tells them.
    OtherName {
        presented: Vec<String>,
    },
    /// The server asks for a client certificate (mutual TLS) and Haul sent none.
    ClientCertificateRequired,
    /// The server refused the client certificate Haul sent (another authority's, revoked, not for this use).
    ClientCertificateRefused,
    /// The server refused the client certificate Haul sent because it has expired.
    ClientCertificateExpired,
}

impl CertificateProblem {
    /// One or two sentences for the user. `host` is `name[:port]` as connected to.
    pub(crate) fn message(&self, host: &str) -> String {
        match self {
            CertificateProblem::UnknownIssuer => "This server's certificate is signed by an authority this computer does not trust. If your organisation uses its own certificate authority, add the CA certificate file your IT department gives you in the server's settings.".to_string(),
            CertificateProblem::Expired => format!(
                "The certificate of {host} has expired, so Haul cannot be sure it is talking to the real server. The server's administrators must renew it (if this computer's date and time are wrong, correct them first)."
            ),
            CertificateProblem::NotYetValid => format!(
                "The certificate of {host} is not valid yet. Check this computer's date and time; if they are right, the server's administrators must fix the certificate."
            ),
            CertificateProblem::OtherName { presented } => {
                let names = if presented.is_empty() { String::new() } else { format!(" ({})", presented.join(", ")) };
                format!(
                    "The certificate of {host} is for another name{names}, not for the address Haul connected to. Check the address in the server's settings: it must use the name the certificate is issued for (ask the server's administrators if unsure)."
                )
            }
            CertificateProblem::ClientCertificateRequired => format!(
                "{host} asks for a client certificate, and none is set for this server. Choose the client certificate file your IT department gave you in the server's network settings."
            ),
            CertificateProblem::ClientCertificateRefused => format!(
                "{host} refused the client certificate Haul sent: it does not trust the authority that issued it, or the certificate was revoked. Check that you chose the certificate meant for this server; the server's administrators can tell you which one they expect."
            ),
            CertificateProblem::ClientCertificateExpired => format!(
                "{host} refused the client certificate Haul sent because it has expired. Ask your IT department for a renewed one and choose it in the server's network settings."
            ),
        }
    }
}

/// The certificate problem behind `err`, if that is what it is.
pub(crate) fn certificate_problem(err: &(dyn Error + 'static)) -> Option<CertificateProblem> {
    match rustls_error_in(err) {
        Some(rustls::Error::InvalidCertificate(e)) => of_certificate_error(e),
        Some(rustls::Error::AlertReceived(alert)) => of_alert(*alert),
        // rustls failed for another reason (a protocol mismatch): not a certificate problem.
        Some(_) => None,
        None => by_name(&crate::error::error_chain(err)),
    }
}

/// The first rustls error in the chain. An `io::Error` does not list the error it wraps as its source (it
/// skips to that error's source), so wrapped errors are looked into as well: tokio-rustls reports a refused
/// certificate as an `io::Error` around the rustls error.
fn rustls_error_in<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && let Some(found) = rustls_error_in(inner)
        {
            return Some(found);
        }
        next = e.source();
    }
    None
}

fn of_certificate_error(e: &CertificateError) -> Option<CertificateProblem> {
    Some(match e {
        CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => CertificateProblem::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
        CertificateError::NotValidForName => CertificateProblem::OtherName { presented: Vec::new() },
        CertificateError::NotValidForNameContext { presented, .. } => {
            CertificateProblem::OtherName { presented: presented.iter().filter_map(|n| presented_name(n)).collect() }
        }
        _ => return None,
    })
}

/// The server's alert about the client certificate Haul sent (or did not send). A server only sends these
/// about its client's certificate; a handshake failure in general (TLS 1.2 servers send it for a missing
/// certificate too) says too little to name a cause.
fn of_alert(alert: rustls::AlertDescription) -> Option<CertificateProblem> {
    use rustls::AlertDescription as A;
    Some(match alert {
        A::CertificateRequired => CertificateProblem::ClientCertificateRequired,
        A::CertificateExpired => CertificateProblem::ClientCertificateExpired,
        A::BadCertificate
        | A::UnknownCA
        | A::CertificateUnknown
        | A::CertificateRevoked
        | A::UnsupportedCertificate => CertificateProblem::ClientCertificateRefused,
        _ => return None,
    })
}

/// The name inside webpki's `DnsName("host")` or `IpAddress(1.2.3.4)`, fit to print (the text comes from the
/// server's certificate). Other kinds of names (URIs, directory names) say nothing about the address.
fn presented_name(debug: &str) -> Option<String> {
    let inner = debug
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| debug.strip_prefix("IpAddress(").and_then(|rest| rest.strip_suffix(')')))?;
    Some(crate::text::printable(inner).into_owned())
}

/// The same cases by rustls' names in the text: the variant names (`UnknownIssuer`, `Expired`, …, as rustls
/// prints variants without their own wording) and the sentences it prints for the others.
fn by_name(chain: &str) -> Option<CertificateProblem> {
    let words: Vec<&str> = chain.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let named = |names: &[&str]| words.iter().any(|w| names.contains(w));
    if chain.contains("received fatal alert") {
        return if named(&["CertificateRequired"]) {
            Some(CertificateProblem::ClientCertificateRequired)
        } else if named(&["CertificateExpired"]) {
            Some(CertificateProblem::ClientCertificateExpired)
        } else if named(&["BadCertificate", "UnknownCA", "CertificateUnknown", "CertificateRevoked"]) {
            Some(CertificateProblem::ClientCertificateRefused)
        } else {
            None
        };
    }
    if named(&["UnknownIssuer"]) {
        Some(CertificateProblem::UnknownIssuer)
    } else if named(&["Expired", "ExpiredContext"]) || chain.contains("certificate expired") {
        Some(CertificateProblem::Expired)
    } else if named(&["NotValidYet", "NotValidYetContext"]) || chain.contains("certificate not valid yet") {
        Some(CertificateProblem::NotYetValid)
    } else if named(&["NotValidForName", "NotValidForNameContext"]) || chain.contains("certificate not valid for name")
    {
        Some(CertificateProblem::OtherName { presented: Vec::new() })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{ServerName, UnixTime};
    use std::time::Duration;

    /// An error that wraps another, the way hyper-util and reqwest report a failed connection.
    #[derive(Debug, thiserror::Error)]
    #[error("{label}")]
    struct Wrapper {
        label: &'static str,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    }

    /// reqwest → hyper-util's "client error (Connect)" → tokio-rustls' `io::Error` around the rustls error:
    /// the chain a refused certificate arrives in.
    fn as_reqwest_reports_it(certificate: CertificateError) -> Wrapper {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(certificate));
        let connect = Wrapper { label: "client error (Connect)", source: Box::new(io) };
        Wrapper {
            label: "error sending request for url (https://ehr.example.org/fhir/metadata)",
            source: Box::new(connect),
        }
    }

    fn problem_of(certificate: CertificateError) -> Option<CertificateProblem> {
        certificate_problem(&as_reqwest_reports_it(certificate))
    }

    #[test]
    fn each_certificate_error_is_read_from_the_wrapped_rustls_error() {
        assert_eq!(problem_of(CertificateError::UnknownIssuer), Some(CertificateProblem::UnknownIssuer));
        assert_eq!(problem_of(CertificateError::Expired), Some(CertificateProblem::Expired));
        let expired = CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(2_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_000_000)),
        };
        assert_eq!(problem_of(expired), Some(CertificateProblem::Expired));
        assert_eq!(problem_of(CertificateError::NotValidYet), Some(CertificateProblem::NotYetValid));
        let other_name = CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("ehr.example.org").unwrap().to_owned(),
            presented: vec![
                "DnsName(\"portal.example.org\")".into(),
                "IpAddress(10.0.0.7)".into(),
                "UniformResourceIdentifier(\"urn:x\")".into(),
                "DnsName(\"evil\u{1b}[2J.example\")".into(),
            ],
        };
        let Some(CertificateProblem::OtherName { presented }) = problem_of(other_name) else { panic!() };
        assert_eq!(presented.len(), 3, "{presented:?}");
        assert_eq!(&presented[..2], ["portal.example.org", "10.0.0.7"]);
        assert!(!presented[2].contains('\u{1b}'), "{presented:?}");
        assert_eq!(
            problem_of(CertificateError::NotValidForName),
            Some(CertificateProblem::OtherName { presented: vec![] })
        );
    }

    #[test]
    fn other_failures_are_not_taken_for_certificate_problems() {
        assert_eq!(problem_of(CertificateError::BadSignature), None);
        assert_eq!(problem_of(CertificateError::Revoked), None);
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert_eq!(certificate_problem(&alert), None);
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        assert_eq!(certificate_problem(&Wrapper { label: "client error (Connect)", source: Box::new(refused) }), None);
    }

    #[test]
    fn the_servers_alerts_about_the_client_certificate_are_told_apart() {
        let alert = |description| {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::AlertReceived(description));
            certificate_problem(&Wrapper { label: "connection error", source: Box::new(io) })
        };
        use rustls::AlertDescription as A;
        assert_eq!(alert(A::CertificateRequired), Some(CertificateProblem::ClientCertificateRequired));
        assert_eq!(alert(A::UnknownCA), Some(CertificateProblem::ClientCertificateRefused));
        assert_eq!(alert(A::BadCertificate), Some(CertificateProblem::ClientCertificateRefused));
        assert_eq!(alert(A::CertificateExpired), Some(CertificateProblem::ClientCertificateExpired));
        assert_eq!(alert(A::HandshakeFailure), None);
        let text_only = |text: &str| {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, text.to_string());
            certificate_problem(&Wrapper { label: "connection error", source: Box::new(io) })
        };
        assert_eq!(
            text_only("received fatal alert: CertificateRequired"),
            Some(CertificateProblem::ClientCertificateRequired)
        );
        assert_eq!(text_only("received fatal alert: DecodeError"), None);
        let message = CertificateProblem::ClientCertificateRequired.message("ehr.example.org");
        assert!(message.contains("asks for a client certificate") && message.contains("network settings"));
    }

    #[test]
    fn chains_that_only_carry_text_are_read_by_rustls_names() {
        let text_only = |text: &str| {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, text.to_string());
            certificate_problem(&Wrapper { label: "client error (Connect)", source: Box::new(io) })
        };
        assert_eq!(text_only("invalid peer certificate: UnknownIssuer"), Some(CertificateProblem::UnknownIssuer));
        assert_eq!(
            text_only(
                "invalid peer certificate: certificate expired: verification time 1754000000 (UNIX), but certificate is not valid after 1753900000 (100000 seconds ago)"
            ),
            Some(CertificateProblem::Expired)
        );
        assert_eq!(text_only("invalid peer certificate: Expired"), Some(CertificateProblem::Expired));
        assert_eq!(
            text_only(
                "invalid peer certificate: certificate not valid for name \"127.0.0.1\"; certificate is only valid for DnsName(\"x.test\")"
            ),
            Some(CertificateProblem::OtherName { presented: vec![] })
        );
        assert_eq!(text_only("invalid peer certificate: NotValidYet"), Some(CertificateProblem::NotYetValid));
        // A revocation list that expired is about the list, not the certificate.
        assert_eq!(text_only("invalid peer certificate: ExpiredRevocationList"), None);
        assert_eq!(text_only("invalid peer certificate: BadSignature"), None);
    }

    #[test]
    fn the_messages_say_what_to_do() {
        let host = "ehr.example.org";
        assert!(CertificateProblem::UnknownIssuer.message(host).contains("add the CA certificate file"));
        let expired = CertificateProblem::Expired.message(host);
        assert!(expired.contains("ehr.example.org has expired") && expired.contains("must renew it"), "{expired}");
        let other = CertificateProblem::OtherName { presented: vec!["portal.example.org".into()] }.message(host);
        assert!(other.contains("is for another name (portal.example.org)") && other.contains("Check the address"));
        assert!(CertificateProblem::NotYetValid.message(host).contains("date and time"));
    }
}
