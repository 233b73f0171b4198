//! A client certificate for mutual TLS: some hospitals and payers only let in a computer that shows a
//! certificate their own authority issued. IT hands it out as a PEM file (certificate chain and private key)
//! or a PKCS#12 file (.p12/.pfx) with a password. Either is read here once, by one rule, into the PEM that
//! the HTTP client takes (and that the store keeps in the keychain), and a description a person can check
//! (subject, expiry).

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

/// What a user sees of a client certificate: enough to recognise it, nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDescription {
    /// The certificate's subject, as `CN=…, O=…` (printable).
    pub subject: String,
    /// The end of its validity, RFC 3339 in UTC.
    pub not_after: String,
    /// Its validity has ended: servers will refuse it. Told as a warning; the user may still keep it.
    pub expired: bool,
}

/// A client certificate with its private key, ready for the HTTP client.
pub struct ClientIdentity {
    /// The certificate, then the rest of its chain, as PEM (public).
    certificates_pem: String,
    /// The private key: which PEM label it has, and its DER.
    key: PrivateKeyPart,
    pub description: CertificateDescription,
}

/// A client certificate's private key in the smallest form that keeps it whole: a one-byte tag for its kind
/// (PKCS#8, PKCS#1, SEC1), then its DER. Keychains bound an entry's size (Windows: 2,560 bytes), which a
/// certificate chain with its key as PEM text overruns; the key's DER alone fits.
pub struct PrivateKeyPart(Zeroizing<Vec<u8>>);

impl PrivateKeyPart {
    fn new(key: &PrivateKeyDer<'_>) -> Self {
        let tag = match key {
            PrivateKeyDer::Pkcs1(_) => b'1',
            PrivateKeyDer::Sec1(_) => b'e',
            _ => b'8',
        };
        let mut bytes = Zeroizing::new(Vec::with_capacity(key.secret_der().len() + 1));
        bytes.push(tag);
        bytes.extend_from_slice(key.secret_der());
        Self(bytes)
    }

    /// The bytes to keep in the keychain.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Back from the keychain's bytes; `None` if they are not such a key.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Option<Self> {
        matches!(bytes.first(), Some(b'1' | b'e' | b'8')).then_some(Self(bytes))
    }

    fn pem(&self) -> Zeroizing<String> {
        let label = match self.0[0] {
            b'1' => "RSA PRIVATE KEY",
            b'e' => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        let mut pem = Zeroizing::new(String::new());
        push_pem(&mut pem, label, &self.0[1..]);
        pem
    }
}

/// The certificate chain (PEM, kept anywhere) and the key (kept in the keychain) as one PEM: what the HTTP
/// client takes.
pub fn identity_pem(certificates_pem: &str, key: &PrivateKeyPart) -> Zeroizing<String> {
    Zeroizing::new(format!("{certificates_pem}{}", key.pem().as_str()))
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity").field("description", &self.description).finish_non_exhaustive()
    }
}

/// Why a client certificate file cannot be used. The messages speak of "the file"; callers name it.
#[derive(Debug, thiserror::Error)]
pub enum ClientIdentityError {
    #[error(
        "The file is neither a PEM file (text with “-----BEGIN CERTIFICATE-----” lines) nor a PKCS#12 file (.p12 or .pfx). Ask your IT department for the client certificate in one of those forms."
    )]
    NotRecognised,
    #[error("The file's text is damaged ({0}). Ask your IT department for the file again.")]
    Damaged(String),
    #[error("This PKCS#12 file is protected by a password. Enter the password your IT department gave you with it.")]
    PasswordNeeded,
    #[error("The password does not open this PKCS#12 file. Check it (capital letters count) and try again.")]
    WrongPassword,
    #[error("Haul cannot read this PKCS#12 file ({0}). Ask your IT department for the file again, or as PEM.")]
    Pkcs12(String),
    #[error("The file holds no certificate. A client certificate file holds a certificate and its private key.")]
    NoCertificate,
    #[error(
        "The file holds a certificate but no private key. A client certificate needs both: ask your IT department for the file that includes the private key (often a .p12 or .pfx file)."
    )]
    NoPrivateKey,
    #[error(
        "The private key in this PEM file is encrypted, which Haul cannot read. Ask your IT department for the certificate as a .p12 or .pfx file with its password instead."
    )]
    EncryptedKey,
    #[error(
        "The private key in the file does not belong to its certificate. Ask your IT department for a file in which they belong together."
    )]
    KeyMismatch,
    #[error("Haul cannot use the private key in the file ({0}).")]
    UnusableKey(String),
}

impl ClientIdentity {
    /// Reads a client certificate file's content: PEM text, or PKCS#12 with `password` (none: tried with an
    /// empty password, as files exported without one have).
    pub fn read(content: &[u8], password: Option<&str>) -> Result<ClientIdentity, ClientIdentityError> {
        if looks_like_pem(content) {
            Self::from_pem(content)
        } else if content.first() == Some(&0x30) {
            from_pkcs12(content, password)
        } else {
            Err(ClientIdentityError::NotRecognised)
        }
    }

    /// Reads PEM text with one or more certificates and one private key, in any order.
    pub fn from_pem(pem: &[u8]) -> Result<ClientIdentity, ClientIdentityError> {
        let text = String::from_utf8_lossy(pem);
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(ClientIdentityError::EncryptedKey);
        }
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientIdentityError::Damaged(e.to_string()))?;
        if certificates.is_empty() {
            return Err(ClientIdentityError::NoCertificate);
        }
        let key = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(key) => key,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(ClientIdentityError::NoPrivateKey),
            Err(e) => return Err(ClientIdentityError::Damaged(e.to_string())),
        };
        assemble(certificates, key)
    }

    /// The certificate chain and private key as PEM: what [`crate::HttpClient`] takes.
    pub fn pem(&self) -> Zeroizing<String> {
        identity_pem(&self.certificates_pem, &self.key)
    }

    /// The certificate chain alone, as PEM: public, kept beside the server's settings.
    pub fn certificates_pem(&self) -> &str {
        &self.certificates_pem
    }

    /// The private key, for the keychain.
    pub fn private_key(&self) -> &PrivateKeyPart {
        &self.key
    }
}

fn looks_like_pem(content: &[u8]) -> bool {
    memchr::memmem::find(content, b"-----BEGIN ").is_some()
}

fn from_pkcs12(content: &[u8], password: Option<&str>) -> Result<ClientIdentity, ClientIdentityError> {
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(content, password.unwrap_or("")).map_err(|e| {
        use p12_keystore::error::Error as P12;
        match e {
            // The MAC is keyed by the password, so a wrong one shows as a MAC that does not verify (or, in files
            // without a MAC, as contents that do not decrypt).
            P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) if password.is_none_or(str::is_empty) => {
                ClientIdentityError::PasswordNeeded
            }
            P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => ClientIdentityError::WrongPassword,
            P12::DerError(_) | P12::InvalidVersion => ClientIdentityError::NotRecognised,
            other => ClientIdentityError::Pkcs12(other.to_string()),
        }
    })?;
    let certificates: Vec<CertificateDer<'static>> =
        archive.certs.iter().map(|bag| CertificateDer::from(bag.cert.as_der().to_vec())).collect();
    if certificates.is_empty() {
        return Err(ClientIdentityError::NoCertificate);
    }
    let Some(bag) = archive.keys.first() else { return Err(ClientIdentityError::NoPrivateKey) };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec()));
    assemble(certificates, key)
}

/// The certificate that belongs to `key` first, then the others (its chain), then the key, as PEM.
fn assemble(
    mut certificates: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ClientIdentity, ClientIdentityError> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| ClientIdentityError::UnusableKey(e.to_string()))?;
    // Files list the chain in any order (PKCS#12 bags often put the authority first): find the leaf by key.
    let leaf = certificates
        .iter()
        .position(|certificate| {
            rustls::sign::CertifiedKey::new(vec![certificate.clone()], signing.clone()).keys_match().is_ok()
        })
        .ok_or(ClientIdentityError::KeyMismatch)?;
    let leaf_certificate = certificates.remove(leaf);
    certificates.insert(0, leaf_certificate);
    let description = describe(&certificates[0])?;

    let mut certificates_pem = String::new();
    for certificate in &certificates {
        push_pem(&mut certificates_pem, "CERTIFICATE", certificate.as_ref());
    }
    Ok(ClientIdentity { certificates_pem, key: PrivateKeyPart::new(&key), description })
}

fn push_pem(out: &mut String, label: &str, der: &[u8]) {
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
}

fn describe(certificate: &CertificateDer<'_>) -> Result<CertificateDescription, ClientIdentityError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map_err(|e| ClientIdentityError::Damaged(e.to_string()))?;
    let not_after = parsed.validity().not_after.to_datetime();
    let expired = not_after < time::OffsetDateTime::now_utc();
    let not_after = not_after
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let subject = crate::text::printable(&parsed.subject().to_string()).into_owned();
    Ok(CertificateDescription { subject, not_after, expired })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client certificate as an organisation's CA issues it, with the CA's certificate.
    fn issued(valid_days: i64) -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Hospital CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf = rcgen::CertificateParams::default();
        leaf.distinguished_name.push(rcgen::DnType::CommonName, "haul-client");
        let now = time::OffsetDateTime::now_utc();
        leaf.not_before = now - time::Duration::days(60);
        leaf.not_after = now + time::Duration::days(valid_days);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem(), ca_cert.pem())
    }

    #[test]
    fn a_pem_file_in_any_order_becomes_leaf_chain_key() {
        let (cert, key, ca) = issued(30);
        let identity = ClientIdentity::read(format!("{key}{ca}{cert}").as_bytes(), None).unwrap();
        assert_eq!(identity.description.subject, "CN=haul-client");
        assert!(!identity.description.expired);
        let pem = identity.pem();
        assert!(pem.find(&cert).is_some_and(|at| at == 0), "leaf first: {}", pem.as_str());
        assert!(pem.contains("-----BEGIN PRIVATE KEY-----"));
        reqwest::Identity::from_pem(pem.as_bytes()).unwrap();
    }

    #[test]
    fn bad_pem_files_get_their_own_words() {
        let (cert, key, _) = issued(30);
        let (other_cert, ..) = issued(30);
        let err = |text: &str| ClientIdentity::read(text.as_bytes(), None).unwrap_err();
        assert!(matches!(err(&cert), ClientIdentityError::NoPrivateKey));
        assert!(matches!(err(&key), ClientIdentityError::NoCertificate));
        assert!(matches!(err(&format!("{other_cert}{key}")), ClientIdentityError::KeyMismatch));
        assert!(matches!(err("just notes"), ClientIdentityError::NotRecognised));
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(err(&format!("{cert}{encrypted}")), ClientIdentityError::EncryptedKey));
    }

    #[test]
    fn an_expired_certificate_is_read_and_said_to_be_expired() {
        let (cert, key, _) = issued(-1);
        let identity = ClientIdentity::read(format!("{cert}{key}").as_bytes(), None).unwrap();
        assert!(identity.description.expired);
        assert!(identity.description.not_after.ends_with('Z'), "{}", identity.description.not_after);
    }

    #[test]
    fn pkcs12_files_open_with_their_password_only() {
        let (cert, key, ca) = issued(30);
        let leaf =
            p12_keystore::Certificate::from_der(CertificateDer::from_pem_slice(cert.as_bytes()).unwrap().as_ref())
                .unwrap();
        let authority =
            p12_keystore::Certificate::from_der(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap().as_ref())
                .unwrap();
        let key_der = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let key = p12_keystore::PrivateKey::from_der(key_der.secret_der()).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(vec![1u8; 20], key, [authority, leaf]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("client", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        // AES-256-CBC with PBKDF2 and an SHA-256 MAC, as OpenSSL 3 writes by default.
        let p12 = store
            .writer("s3cret")
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
            .write()
            .unwrap();

        let identity = ClientIdentity::read(&p12, Some("s3cret")).unwrap();
        assert_eq!(identity.description.subject, "CN=haul-client");
        assert!(identity.pem().starts_with(&cert), "the leaf comes first");
        assert!(matches!(ClientIdentity::read(&p12, Some("wrong")).unwrap_err(), ClientIdentityError::WrongPassword));
        assert!(matches!(ClientIdentity::read(&p12, None).unwrap_err(), ClientIdentityError::PasswordNeeded));
    }

    /// A file written by `openssl pkcs12 -export` (OpenSSL 3.0, its defaults: PBES2 with AES-256-CBC and
    /// PBKDF2-HMAC-SHA256, a SHA-256 MAC), password `haul-test`, valid until 2125.
    #[test]
    fn a_pkcs12_file_as_openssl_3_writes_it() {
        let p12 = include_bytes!("../tests/fixtures/openssl3-client.p12");
        let identity = ClientIdentity::read(p12, Some("haul-test")).unwrap();
        assert_eq!(identity.description.subject, "CN=OpenSSL 3 client");
        assert!(!identity.description.expired);
        reqwest::Identity::from_pem(identity.pem().as_bytes()).unwrap();
        assert!(matches!(ClientIdentity::read(p12, Some("nope")).unwrap_err(), ClientIdentityError::WrongPassword));
    }
}
