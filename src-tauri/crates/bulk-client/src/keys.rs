//! Signing keys for SMART Backend Services: generate (RS384 with RSA-2048, ES384 with P-384), import
//! (PEM PKCS#8 / PKCS#1 / SEC1, or JWK), the public JWK to register with a server, and the RFC 7638
//! thumbprint used as `kid`.
//!
//! The private half is held as PKCS#8 DER in memory that is wiped on drop, and leaves this type only as
//! bytes for the OS keychain ([`SigningKey::private_pkcs8_der`]); nothing here writes a file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p384::elliptic_curve::sec1::ToEncodedPoint;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use zeroize::Zeroizing;

/// The two algorithms SMART Backend Services requires servers to support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum KeyAlgorithm {
    RS384,
    ES384,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::RS384 => "RS384",
            KeyAlgorithm::ES384 => "ES384",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "RS384" => Some(KeyAlgorithm::RS384),
            "ES384" => Some(KeyAlgorithm::ES384),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "This file is not a private key Haul can read. Use a PEM file (“-----BEGIN PRIVATE KEY-----”, “BEGIN RSA PRIVATE KEY” or “BEGIN EC PRIVATE KEY”) or a JWK with its private part (“d”)."
    )]
    Unrecognized,
    #[error(
        "This is a public key only. Haul needs the private key to sign in; the public part is what you give the server."
    )]
    PublicOnly,
    #[error(
        "This key cannot be used for SMART Backend Services: {0}. Use an RSA key of at least 2048 bits (RS384) or a P-384 EC key (ES384)."
    )]
    Unsupported(String),
    #[error("The key file is damaged: {0}")]
    Damaged(String),
    /// Signing a portal's proof file needs an RSA key.
    #[error(
        "This is an elliptic-curve (ES384) key; portals that ask for a signed file (CMS DPC) take RSA keys. Create an RSA key (4096 bits for DPC) and use that."
    )]
    ProofNeedsRsa,
}

/// RSA key sizes Haul generates.
pub const RSA_SIZES: [u32; 3] = [2048, 3072, 4096];

/// A public JWK (as Haul stores it) as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo): what servers that register
/// a PEM public key want (CMS DPC).
pub fn public_pem_of_jwk(jwk: &Value) -> Result<String, KeyError> {
    use rsa::pkcs8::EncodePublicKey;
    let member = |name: &str| -> Result<Vec<u8>, KeyError> {
        let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| KeyError::Damaged(format!("no “{name}”")))?;
        B64.decode(text).map_err(|e| KeyError::Damaged(e.to_string()))
    };
    let line = rsa::pkcs8::LineEnding::LF;
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let n = rsa::BigUint::from_bytes_be(&member("n")?);
            let e = rsa::BigUint::from_bytes_be(&member("e")?);
            let key = rsa::RsaPublicKey::new(n, e).map_err(|e| KeyError::Damaged(e.to_string()))?;
            key.to_public_key_pem(line).map_err(|e| KeyError::Damaged(e.to_string()))
        }
        Some("EC") => {
            let mut point = vec![0x04];
            point.extend(member("x")?);
            point.extend(member("y")?);
            let key = p384::PublicKey::from_sec1_bytes(&point).map_err(|e| KeyError::Damaged(e.to_string()))?;
            key.to_public_key_pem(line).map_err(|e| KeyError::Damaged(e.to_string()))
        }
        _ => Err(KeyError::Unsupported("it is neither an RSA key nor a P-384 EC key".into())),
    }
}

pub struct SigningKey {
    alg: KeyAlgorithm,
    kid: String,
    /// PKCS#8 DER of the private key.
    pkcs8: Zeroizing<Vec<u8>>,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, not even in debug output.
        f.debug_struct("SigningKey").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate(alg: KeyAlgorithm) -> Result<Self, KeyError> {
        Self::generate_sized(alg, None)
    }

    /// A new key; `rsa_bits` (2048, 3072 or 4096; 2048 by default) for RS384. Some servers ask for more than
    /// 2048 bits (CMS DPC's guides use 4096).
    pub fn generate_sized(alg: KeyAlgorithm, rsa_bits: Option<u32>) -> Result<Self, KeyError> {
        let mut rng = rsa::rand_core::OsRng;
        match alg {
            KeyAlgorithm::RS384 => {
                let bits = rsa_bits.unwrap_or(2048);
                if !RSA_SIZES.contains(&bits) {
                    return Err(KeyError::Unsupported(format!(
                        "{bits}-bit RSA keys are not offered (2048, 3072 or 4096)"
                    )));
                }
                let key =
                    rsa::RsaPrivateKey::new(&mut rng, bits as usize).map_err(|e| KeyError::Damaged(e.to_string()))?;
                Self::from_rsa(key, None)
            }
            KeyAlgorithm::ES384 if rsa_bits.is_some() => {
                Err(KeyError::Unsupported("a size applies to RSA keys only; P-384 keys have one size".into()))
            }
            KeyAlgorithm::ES384 => Self::from_p384(p384::SecretKey::random(&mut rng), None),
        }
    }

    /// Reads a private key from what the user picked: PEM (PKCS#8, PKCS#1, SEC1) or a JWK (or a JWKS with
    /// one private key).
    pub fn import(bytes: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| KeyError::Unrecognized)?.trim();
        if text.starts_with('{') {
            return Self::from_jwk_text(text);
        }
        if text.contains("PUBLIC KEY-----") && !text.contains("PRIVATE KEY-----") {
            return Err(KeyError::PublicOnly);
        }
        if text.contains("ENCRYPTED PRIVATE KEY") {
            return Err(KeyError::Unsupported("it is protected by a passphrase; export it without one".into()));
        }
        if text.contains("-----BEGIN PRIVATE KEY-----") {
            if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(text) {
                return Self::from_rsa(key, None);
            }
            if let Ok(key) = p384::SecretKey::from_pkcs8_pem(text) {
                return Self::from_p384(key, None);
            }
            return Err(KeyError::Unsupported("it is neither an RSA key nor a P-384 EC key".into()));
        }
        if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            let key = rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| KeyError::Damaged(e.to_string()))?;
            return Self::from_rsa(key, None);
        }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            let key = p384::SecretKey::from_sec1_pem(text)
                .map_err(|_| KeyError::Unsupported("it is an EC key on a curve other than P-384".into()))?;
            return Self::from_p384(key, None);
        }
        Err(KeyError::Unrecognized)
    }

    /// Rebuilds a key from the PKCS#8 DER kept in the keychain.
    pub fn from_pkcs8_der(der: &[u8], kid: Option<String>) -> Result<Self, KeyError> {
        if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
            return Self::from_rsa(key, kid);
        }
        if let Ok(key) = p384::SecretKey::from_pkcs8_der(der) {
            return Self::from_p384(key, kid);
        }
        Err(KeyError::Damaged("the stored key is not a PKCS#8 RSA or P-384 key".into()))
    }

    fn from_jwk_text(text: &str) -> Result<Self, KeyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| KeyError::Damaged(e.to_string()))?;
        let jwk = match value.get("keys").and_then(Value::as_array) {
            Some(keys) => {
                let private: Vec<&Value> = keys.iter().filter(|k| k.get("d").is_some()).collect();
                match private.as_slice() {
                    [one] => (*one).clone(),
                    [] => return Err(KeyError::PublicOnly),
                    _ => return Err(KeyError::Unsupported("the JWKS holds several private keys; import one".into())),
                }
            }
            None => value,
        };
        if jwk.get("d").is_none() {
            return Err(KeyError::PublicOnly);
        }
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_string);
        match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let part = |name: &str| -> Result<rsa::BigUint, KeyError> {
                    let text = jwk
                        .get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| KeyError::Damaged(format!("the JWK has no “{name}”")))?;
                    let bytes = B64
                        .decode(text.trim_end_matches('='))
                        .map_err(|_| KeyError::Damaged(format!("“{name}” is not base64url")))?;
                    Ok(rsa::BigUint::from_bytes_be(&bytes))
                };
                let key = rsa::RsaPrivateKey::from_components(
                    part("n")?,
                    part("e")?,
                    part("d")?,
                    vec![part("p")?, part("q")?],
                )
                .map_err(|e| KeyError::Damaged(e.to_string()))?;
                Self::from_rsa(key, kid)
            }
            Some("EC") => {
                if jwk.get("crv").and_then(Value::as_str) != Some("P-384") {
                    return Err(KeyError::Unsupported("it is an EC key on a curve other than P-384".into()));
                }
                // Built from `d` directly: real JWKs carry members (kid, alg, use) that strict parsers refuse.
                let b64 = |name: &str| -> Result<Vec<u8>, KeyError> {
                    let text = jwk
                        .get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| KeyError::Damaged(format!("the JWK has no “{name}”")))?;
                    B64.decode(text.trim_end_matches('='))
                        .map_err(|_| KeyError::Damaged(format!("“{name}” is not base64url")))
                };
                let key = p384::SecretKey::from_slice(&b64("d")?)
                    .map_err(|_| KeyError::Damaged("“d” is not a P-384 private key".into()))?;
                let signing = Self::from_p384(key, kid)?;
                for coordinate in ["x", "y"] {
                    if jwk.get(coordinate).is_some() && signing.public_jwk[coordinate] != B64.encode(b64(coordinate)?) {
                        return Err(KeyError::Damaged(format!("“{coordinate}” does not belong to “d”")));
                    }
                }
                Ok(signing)
            }
            Some(other) => Err(KeyError::Unsupported(format!("its key type is {other}"))),
            None => Err(KeyError::Unrecognized),
        }
    }

    fn from_rsa(key: rsa::RsaPrivateKey, kid: Option<String>) -> Result<Self, KeyError> {
        let bits = key.size() * 8;
        if bits < 2048 {
            return Err(KeyError::Unsupported(format!("the RSA key has only {bits} bits")));
        }
        let n = B64.encode(key.n().to_bytes_be());
        let e = B64.encode(key.e().to_bytes_be());
        let thumbprint = thumbprint(&json!({"e": e, "kty": "RSA", "n": n}));
        let kid = kid.unwrap_or(thumbprint);
        let pkcs8 = key.to_pkcs8_der().map_err(|e| KeyError::Damaged(e.to_string()))?;
        Ok(Self {
            alg: KeyAlgorithm::RS384,
            public_jwk: json!({"kty": "RSA", "alg": "RS384", "use": "sig", "key_ops": ["verify"], "kid": kid, "n": n, "e": e}),
            kid,
            pkcs8: Zeroizing::new(pkcs8.as_bytes().to_vec()),
        })
    }

    fn from_p384(key: p384::SecretKey, kid: Option<String>) -> Result<Self, KeyError> {
        let point = key.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(KeyError::Damaged("the EC public point is not available".into()));
        };
        let (x, y) = (B64.encode(x), B64.encode(y));
        let thumbprint = thumbprint(&json!({"crv": "P-384", "kty": "EC", "x": x, "y": y}));
        let kid = kid.unwrap_or(thumbprint);
        let pkcs8 = key.to_pkcs8_der().map_err(|e| KeyError::Damaged(e.to_string()))?;
        Ok(Self {
            alg: KeyAlgorithm::ES384,
            public_jwk: json!({"kty": "EC", "alg": "ES384", "use": "sig", "key_ops": ["verify"], "kid": kid, "crv": "P-384", "x": x, "y": y}),
            kid,
            pkcs8: Zeroizing::new(pkcs8.as_bytes().to_vec()),
        })
    }

    pub fn alg(&self) -> KeyAlgorithm {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (with `kid`, `alg`, `use: sig`): safe to share, store and show.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The JWKS a server's administrators register for this client.
    pub fn public_jwks(&self) -> Value {
        json!({"keys": [self.public_jwk]})
    }

    /// The private key as PKCS#8 DER, for the OS keychain and nothing else.
    pub fn private_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Proves to a server's portal that this computer holds the private key: an RSA SHA-256 signature of
    /// `message` (the file CMS DPC asks to be signed when the public key is uploaded), in base64 lines of 64
    /// characters, exactly what `openssl dgst -sha256 -sign key.pem file | openssl base64` writes, since the
    /// private key never leaves the keychain for openssl to use.
    pub fn sign_proof(&self, message: &[u8]) -> Result<String, KeyError> {
        if self.alg != KeyAlgorithm::RS384 {
            return Err(KeyError::ProofNeedsRsa);
        }
        let signature = jsonwebtoken::crypto::sign(message, &self.encoding_key()?, jsonwebtoken::Algorithm::RS256)
            .map_err(|e| KeyError::Damaged(e.to_string()))?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| KeyError::Damaged(e.to_string()))?;
        let text = base64::engine::general_purpose::STANDARD.encode(raw);
        let lines: Vec<&str> =
            text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
        Ok(format!("{}\n", lines.join("\n")))
    }

    pub(crate) fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, KeyError> {
        match self.alg {
            KeyAlgorithm::ES384 => Ok(jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8)),
            KeyAlgorithm::RS384 => {
                // jsonwebtoken wants RSA keys as PKCS#1.
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).map_err(|e| KeyError::Damaged(e.to_string()))?;
                let pkcs1 = key.to_pkcs1_der().map_err(|e| KeyError::Damaged(e.to_string()))?;
                Ok(jsonwebtoken::EncodingKey::from_rsa_der(pkcs1.as_bytes()))
            }
        }
    }
}

/// RFC 7638: SHA-256 over the required members, lexically ordered, no white space; base64url.
pub fn thumbprint(required_members: &Value) -> String {
    // serde_json's maps are ordered by key (no preserve_order feature), so to_string is canonical here.
    let canonical = required_members.to_string();
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_rsa_keys_and_pem_public_keys() {
        use rsa::pkcs8::DecodePublicKey;
        let big = SigningKey::generate_sized(KeyAlgorithm::RS384, Some(3072)).unwrap();
        let pem = public_pem_of_jwk(big.public_jwk()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
        let back = rsa::RsaPublicKey::from_public_key_pem(&pem).unwrap();
        assert_eq!(back.size() * 8, 3072);
        let ec = SigningKey::generate(KeyAlgorithm::ES384).unwrap();
        let pem = public_pem_of_jwk(ec.public_jwk()).unwrap();
        assert!(p384::PublicKey::from_public_key_pem(&pem).is_ok());
        assert!(SigningKey::generate_sized(KeyAlgorithm::RS384, Some(1024)).is_err());
        assert!(SigningKey::generate_sized(KeyAlgorithm::ES384, Some(4096)).is_err());
    }

    const SIM_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../bulk-sim/tests/keys");

    #[test]
    fn rfc7638_example_thumbprint() {
        // The example key of RFC 7638, section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let t = thumbprint(&json!({"e": "AQAB", "kty": "RSA", "n": n}));
        assert_eq!(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn generated_keys_round_trip_through_pkcs8() {
        for alg in [KeyAlgorithm::ES384, KeyAlgorithm::RS384] {
            let key = SigningKey::generate(alg).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.kid().len(), 43, "a SHA-256 thumbprint in base64url");
            assert!(key.public_jwk().get("d").is_none(), "the public JWK has no private part");
            let again = SigningKey::from_pkcs8_der(key.private_pkcs8_der(), None).unwrap();
            assert_eq!(again.kid(), key.kid());
            assert_eq!(again.public_jwk(), key.public_jwk());
            key.encoding_key().unwrap();
            assert!(!format!("{key:?}").contains(&B64.encode(key.private_pkcs8_der())));
        }
    }

    #[test]
    fn imports_pem_in_every_usual_wrapping() {
        let rsa_pem = std::fs::read_to_string(format!("{SIM_KEYS}/rs384-a.pem")).unwrap();
        let ec_pem = std::fs::read_to_string(format!("{SIM_KEYS}/es384-a.pem")).unwrap();
        let jwks: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{SIM_KEYS}/jwks-a.json")).unwrap()).unwrap();

        let from_pkcs8 = SigningKey::import(rsa_pem.as_bytes()).unwrap();
        assert_eq!(from_pkcs8.alg(), KeyAlgorithm::RS384);
        assert_eq!(from_pkcs8.public_jwk()["n"], jwks["keys"][0]["n"]);
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(&rsa_pem).unwrap().to_pkcs1_pem(Default::default()).unwrap();
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        assert_eq!(SigningKey::import(pkcs1.as_bytes()).unwrap().kid(), from_pkcs8.kid());

        let ec = SigningKey::import(ec_pem.as_bytes()).unwrap();
        assert_eq!(ec.alg(), KeyAlgorithm::ES384);
        assert_eq!(ec.public_jwk()["x"], jwks["keys"][1]["x"]);
        let sec1 = p384::SecretKey::from_pkcs8_pem(&ec_pem).unwrap().to_sec1_pem(Default::default()).unwrap();
        assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
        assert_eq!(SigningKey::import(sec1.as_bytes()).unwrap().kid(), ec.kid());
    }

    #[test]
    fn imports_a_private_jwk_and_keeps_its_kid() {
        use rsa::traits::PrivateKeyParts;
        let ec = p384::SecretKey::random(&mut rsa::rand_core::OsRng);
        let mut jwk: Value = serde_json::from_str(&ec.to_jwk_string()).unwrap();
        jwk["kid"] = json!("my-own-kid");
        let key = SigningKey::import(jwk.to_string().as_bytes()).unwrap();
        assert_eq!(key.kid(), "my-own-kid");
        jwk.as_object_mut().unwrap().remove("kid");
        let key = SigningKey::import(jwk.to_string().as_bytes()).unwrap();
        assert_eq!(key.kid().len(), 43, "no kid in the JWK: the thumbprint");

        let rsa = SigningKey::generate(KeyAlgorithm::RS384).unwrap();
        let der = rsa::RsaPrivateKey::from_pkcs8_der(rsa.private_pkcs8_der()).unwrap();
        let b = |n: &rsa::BigUint| B64.encode(n.to_bytes_be());
        let primes = der.primes();
        let jwk = json!({"kty": "RSA", "n": b(der.n()), "e": b(der.e()), "d": b(der.d()), "p": b(&primes[0]), "q": b(&primes[1])});
        assert_eq!(SigningKey::import(jwk.to_string().as_bytes()).unwrap().kid(), rsa.kid());
    }

    #[test]
    fn bad_files_get_plain_messages() {
        assert_eq!(SigningKey::import(b"hello").unwrap_err(), KeyError::Unrecognized);
        let jwks = std::fs::read(format!("{SIM_KEYS}/jwks-a.json")).unwrap();
        assert_eq!(SigningKey::import(&jwks).unwrap_err(), KeyError::PublicOnly);
        let public_pem = "-----BEGIN PUBLIC KEY-----\nMHYw\n-----END PUBLIC KEY-----\n";
        assert_eq!(SigningKey::import(public_pem.as_bytes()).unwrap_err(), KeyError::PublicOnly);
        let small = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024)
            .unwrap()
            .to_pkcs8_pem(Default::default())
            .unwrap();
        let err = SigningKey::import(small.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("only 1024 bits"), "{err}");
        let p256 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n";
        assert!(SigningKey::import(p256.as_bytes()).unwrap_err().to_string().contains("P-384"));
    }
}
