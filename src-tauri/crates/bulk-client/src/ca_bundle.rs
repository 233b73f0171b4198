//! The CA certificate file a user adds for a server behind their organisation's own certificate authority:
//! PEM text holding one or more certificates. Read here once, by one rule, for the store (which checks the
//! file when it is chosen) and for the HTTP client (which trusts it besides the platform's roots).

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why a CA certificate file cannot be used. The messages speak of "the file"; callers name it.
#[derive(Debug, thiserror::Error)]
pub enum CaBundleError {
    /// No `-----BEGIN CERTIFICATE-----` section at all: another kind of file, or a binary (DER) certificate.
    #[error(
        "The file holds no certificate in the form Haul reads: text with “-----BEGIN CERTIFICATE-----” lines (PEM, also called Base-64 encoded X.509; often named .pem, .crt or .cer). Ask your IT department for the CA certificate in that form."
    )]
    NoCertificate,
    /// The PEM text itself is broken (a section without its end line, bad base64).
    #[error("The file's certificate text is damaged ({0}). Ask your IT department for the file again.")]
    Damaged(#[source] rustls::pki_types::pem::Error),
    /// A section decodes but is not a certificate that can act as an authority.
    #[error(
        "Certificate {number} in the file cannot be used as a certificate authority ({source}). Ask your IT department for the file again."
    )]
    NotAnAuthority {
        /// Counted from 1, in file order.
        number: usize,
        source: rustls::Error,
    },
    /// The HTTP client would not take the certificates (reported by reqwest; not expected once they passed
    /// the checks above).
    #[error("Haul could not set up secure connections with these certificates: {0}")]
    Client(#[source] reqwest::Error),
}

/// Checks a CA certificate file's content; returns how many certificates it holds.
pub fn check_ca_certificates(pem: &[u8]) -> Result<usize, CaBundleError> {
    read_ca_certificates(pem).map(|certificates| certificates.len())
}

/// The certificates of a PEM file, each checked the way the TLS verifier will take it (as a trust anchor).
/// Other sections (a private key pasted alongside, say) are skipped.
pub(crate) fn read_ca_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CaBundleError> {
    let certificates =
        CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(CaBundleError::Damaged)?;
    if certificates.is_empty() {
        return Err(CaBundleError::NoCertificate);
    }
    for (index, certificate) in certificates.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(certificate.clone())
            .map_err(|source| CaBundleError::NotAnAuthority { number: index + 1, source })?;
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA certificate as IT departments hand them out.
    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }

    #[test]
    fn certificates_are_counted_and_other_sections_skipped() {
        let ca = ca_pem();
        assert_eq!(check_ca_certificates(ca.as_bytes()).unwrap(), 1);
        let bundle = format!(
            "Issued by IT\n{ca}-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDoqsX1ChmJ0bKPlCdNc0jvYzCKqfnRYxpN1OHTQq6Tw\n-----END PRIVATE KEY-----\n{ca}"
        );
        assert_eq!(check_ca_certificates(bundle.as_bytes()).unwrap(), 2);
    }

    #[test]
    fn a_file_without_certificates_is_told_apart_from_a_damaged_one() {
        for not_pem in [&b""[..], b"just some notes", b"\x30\x82\x01\x0a\x02\x82\x01\x01\x00"] {
            assert!(matches!(check_ca_certificates(not_pem), Err(CaBundleError::NoCertificate)), "{not_pem:?}");
        }
        let ca = ca_pem();
        let cut = &ca[..ca.len() - "-----END CERTIFICATE-----\n".len()];
        assert!(matches!(check_ca_certificates(cut.as_bytes()), Err(CaBundleError::Damaged(_))));
        let garbled = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        let err = check_ca_certificates(garbled.as_bytes()).unwrap_err();
        assert!(matches!(err, CaBundleError::NotAnAuthority { number: 1, .. }), "{err:?}");
        assert!(err.to_string().starts_with("Certificate 1 in the file cannot be used"), "{err}");
    }
}
