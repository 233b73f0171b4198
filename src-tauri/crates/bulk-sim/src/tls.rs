//! HTTPS for the simulator, the way hospitals and payers behind their own certificate authority serve it: a
//! private CA is made at start (never trusted by this computer), and both origins present a certificate it
//! issued. Tests trust the CA through [`crate::RunningSim::ca_certificate_pem`], or leave it out to see what a
//! user without it sees. The leaf can also be expired or for another name, to test those messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

/// Serve both origins over HTTPS (`SimConfig::tls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimTls {
    /// The certificate both origins present.
    pub leaf: LeafCertificate,
    /// Let in only clients that show a certificate the simulator's CA issued (mutual TLS, as some hospitals'
    /// gateways do): [`crate::RunningSim::client_identity_pem`] is one.
    pub require_client_certificate: bool,
}

/// Which certificate the server presents. Each is issued by the simulator's private CA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LeafCertificate {
    /// For `127.0.0.1` and `localhost`, valid now: trusted by a client that trusts the CA.
    #[default]
    Valid,
    /// For `127.0.0.1` and `localhost`, but its validity ended a day ago.
    Expired,
    /// Valid now, but for [`OTHER_NAME`] only: not for the address the client connects to.
    ForAnotherName,
}

/// The only name on [`LeafCertificate::ForAnotherName`] (`.invalid` never resolves, so it names nothing real).
pub const OTHER_NAME: &str = "another-server.invalid";

/// The names a valid leaf is for: the addresses the simulator is reached at.
const LOOPBACK_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// What serving HTTPS needs: the CA (for clients to trust) and the server's side of the handshake.
pub(crate) struct SimCertificates {
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
    /// A client certificate and key the CA issued, as PEM.
    pub client_identity_pem: String,
}

/// Makes a fresh CA and the leaf `leaf` asks for. Certificates are made per start, so no key is ever kept on
/// disk or shared between runs.
pub(crate) fn issue(tls: SimTls) -> std::io::Result<SimCertificates> {
    let leaf = tls.leaf;
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let (ca_cert, issuer) = new_ca()?;

    let names: Vec<String> = match leaf {
        LeafCertificate::Valid | LeafCertificate::Expired => LOOPBACK_NAMES.map(String::from).to_vec(),
        LeafCertificate::ForAnotherName => vec![OTHER_NAME.to_string()],
    };
    let mut leaf_params = CertificateParams::new(names).map_err(std::io::Error::other)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "Haul simulator");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    (leaf_params.not_before, leaf_params.not_after) = match leaf {
        LeafCertificate::Expired => (now - 30 * day, now - day),
        LeafCertificate::Valid | LeafCertificate::ForAnotherName => (now - day, now + 30 * day),
    };
    let leaf_key = KeyPair::generate().map_err(std::io::Error::other)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(std::io::Error::other)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?;
    let builder = if tls.require_client_certificate {
        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone()).map_err(std::io::Error::other)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(std::io::Error::other)?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        // The chain as servers send it: the leaf, then its issuer.
        .with_single_cert(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(SimCertificates {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
        client_identity_pem: client_identity(&issuer)?,
    })
}

/// A fresh CA. A name of its own per start, as two organisations' authorities have: a client given another
/// simulator's CA then finds no issuer at all (a CA of the same name but another key would fail the signature
/// check instead, a different error).
fn new_ca() -> std::io::Result<(rcgen::Certificate, Issuer<'static, KeyPair>)> {
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let ca_key = KeyPair::generate().map_err(std::io::Error::other)?;
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("Haul simulator test CA {}", now.unix_timestamp_nanos()));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - day;
    ca_params.not_after = now + 30 * day;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(std::io::Error::other)?;
    Ok((ca_cert, Issuer::new(ca_params, ca_key)))
}

/// A client certificate `issuer` signed, then its private key, as PEM (as IT hands them out).
fn client_identity(issuer: &Issuer<'static, KeyPair>) -> std::io::Result<String> {
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "Haul test client");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = (now - day, now + 30 * day);
    let key = KeyPair::generate().map_err(std::io::Error::other)?;
    let certificate = params.signed_by(&key, issuer).map_err(std::io::Error::other)?;
    Ok(format!("{}{}", certificate.pem(), key.serialize_pem()))
}

/// A client certificate and key (PEM) issued by an authority no simulator trusts: what a server requiring
/// client certificates refuses.
pub fn foreign_client_identity_pem() -> String {
    let (_, issuer) = new_ca().expect("a test CA can be made");
    client_identity(&issuer).expect("a test client certificate can be made")
}

/// A listener that hands axum connections whose TLS handshake is done. Handshakes run in their own tasks, so
/// a slow or refusing client never holds up the next connection; one that refuses the certificate (what the
/// certificate tests provoke) just ends there.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// Longer than any loopback handshake; a client that stalls mid-handshake is dropped after it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_connections(tcp, acceptor, tx));
        Ok(Self { ready, local })
    }
}

/// Accepts until the server stops (the listener, and with it the receiver, is dropped).
async fn accept_connections(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of file descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                let _ = ready.send((tls, peer)).await;
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task holds a sender for as long as this listener lives, so this is not reached;
            // should it end anyway, there is nothing more to accept.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
