//! The other ways servers register a SMART Backend Services client, as their public guides describe them:
//! DPC-like (the public key uploaded as PEM together with a signature of a snippet the portal shows, a key id
//! the server assigns, a long client token as the client id) and Epic-like (a JWKS URL instead of keys).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::{AuthState, ClientRegistration, random_text, random_u64};

/// The text a DPC-like portal asks to be signed with the private key (`openssl dgst -sha256 -sign`), to prove
/// the uploader holds it.
pub const DPC_SNIPPET: &str = "This is the snippet used to verify a key pair in the Haul simulator's DPC-like mode.\n";

impl ClientRegistration {
    pub(super) fn by_jwks(client_id: &str, jwks: Value, scope: Option<String>) -> Self {
        Self { client_id: client_id.to_string(), jwks, scope, pem_keys: Vec::new(), jwks_url: None }
    }
}

impl AuthState {
    /// DPC-like: `public_pem` (an RSA public key, PEM) and the base64 signature of [`DPC_SNIPPET`] made with
    /// its private key (RSA, SHA-256: what `openssl dgst -sha256 -sign` and `openssl base64` write, line
    /// breaks allowed). Returns the client token (the client id of assertions) and the key id assigned.
    pub fn register_dpc(&self, public_pem: &str, snippet_signature: &str) -> Result<(String, String), String> {
        let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())
            .map_err(|e| format!("the public key is not an RSA public key in PEM: {e}"))?;
        let compact: String = snippet_signature.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&compact)
            .map_err(|_| "the signature is not base64".to_string())?;
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let verified = jsonwebtoken::crypto::verify(&signature, DPC_SNIPPET.as_bytes(), &key, Algorithm::RS256)
            .map_err(|e| format!("the signature could not be checked: {e}"))?;
        if !verified {
            return Err("the snippet signature does not match this public key".into());
        }
        // A macaroon in the real service: long, opaque, and secret.
        let client_token = random_text(96);
        let (a, b) = (random_u64(), random_u64());
        let key_id =
            format!("{:08x}-{:04x}-4{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, b & 0xffff_ffff_ffff);
        let registration = ClientRegistration {
            pem_keys: vec![(key_id.clone(), public_pem.to_string())],
            ..ClientRegistration::by_jwks(&client_token, Value::Null, None)
        };
        self.clients.lock().unwrap().insert(client_token.clone(), registration);
        Ok((client_token, key_id))
    }

    /// Epic-like: a client whose public keys are published at `jwks_url`; assertions must carry that URL as
    /// `jku`. The keys are `jwks` (what the URL serves; the simulator does not fetch it).
    pub fn register_by_jwks_url(&self, jwks: Value, jwks_url: &str) -> Result<String, String> {
        let client_id = self.register(jwks, None)?;
        if let Some(client) = self.clients.lock().unwrap().get_mut(&client_id) {
            client.jwks_url = Some(jwks_url.to_string());
        }
        Ok(client_id)
    }
}

/// What an assertion's `jku` header must be for `client`: refused when it names a URL the client did not
/// register, or leaves out the one it did.
pub(super) fn jku_problem(client: &ClientRegistration, jku: Option<&str>) -> Option<String> {
    match (client.jwks_url.as_deref(), jku) {
        (Some(registered), Some(sent)) if registered == sent => None,
        (Some(registered), Some(sent)) => {
            Some(format!("jku {sent} is not the JWKS URL registered for this client ({registered})"))
        }
        (Some(registered), None) => {
            Some(format!("this client is registered by JWKS URL; the assertion must name it in jku ({registered})"))
        }
        (None, Some(sent)) => Some(format!("jku {sent} does not match: this client registered no JWKS URL")),
        (None, None) => None,
    }
}

/// The key a DPC-like client registered under `kid`, and why not when there is none usable.
pub(super) fn pem_key(client: &ClientRegistration, kid: &str, alg: Algorithm) -> Result<DecodingKey, String> {
    let Some((_, pem)) = client.pem_keys.iter().find(|(id, _)| id == kid) else {
        return Err(format!("no public key with id {kid} is registered for this client token"));
    };
    if alg != Algorithm::RS384 {
        return Err(format!("alg {alg:?} is not accepted; sign with RS384"));
    }
    DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("registered key {kid} is unusable: {e}"))
}
