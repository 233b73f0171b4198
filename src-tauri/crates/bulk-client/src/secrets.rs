//! Secrets a session holds (access tokens, client assertions, client secrets) and their removal from any
//! text a server sends back: a server that echoes the request's `Authorization` must not get the token into
//! an error message, the export log, the database or the terminal.

use std::sync::{Arc, RwLock};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// The secrets seen by one session so far. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Held>>);

/// Secrets in every form a server may write them in: those that last the session (a client secret, a pasted
/// token, a proxy's password), never let go, and those that rotate (access tokens, signed assertions), of
/// which only the newest are kept.
#[derive(Default)]
struct Held {
    lasting: Vec<zeroize::Zeroizing<String>>,
    rotating: std::collections::VecDeque<zeroize::Zeroizing<String>>,
}

impl Held {
    fn iter(&self) -> impl Iterator<Item = &zeroize::Zeroizing<String>> {
        self.lasting.iter().chain(self.rotating.iter())
    }

    fn holds(&self, form: &str) -> bool {
        self.iter().any(|s| s.as_str() == form)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} held)", self.0.read().map(|s| s.iter().count()).unwrap_or(0))
    }
}

/// Forms of tokens renewed every few minutes over a long export: only the newest need remembering (a server
/// echoes the token of the request it answers).
const ROTATING_KEPT: usize = 256;

impl Secrets {
    /// Holds a rotating secret (an access token, a signed assertion), and the forms a server echoing it back
    /// may write it in ([`written_forms`]).
    pub fn add(&self, secret: &str) {
        self.hold(secret, false);
    }

    /// Holds a secret that lasts the session (a client secret, a pasted token, a proxy's password): however
    /// many tokens follow, it is never let go.
    pub fn add_lasting(&self, secret: &str) {
        self.hold(secret, true);
    }

    fn hold(&self, secret: &str, lasting: bool) {
        if secret.len() < 8 {
            // Too short to tell from ordinary text; replacing it would garble messages.
            return;
        }
        let mut held = self.0.write().unwrap_or_else(|p| p.into_inner());
        for form in written_forms(secret) {
            if held.holds(&form) {
                continue;
            }
            if lasting {
                held.lasting.push(form);
            } else {
                if held.rotating.len() >= ROTATING_KEPT {
                    held.rotating.pop_front();
                }
                held.rotating.push_back(form);
            }
        }
    }

    /// Holds every secret `other` holds too, as `other` holds them (already in every form).
    pub fn add_all(&self, other: &Secrets) {
        if Arc::ptr_eq(&self.0, &other.0) {
            return;
        }
        let theirs = other.0.read().unwrap_or_else(|p| p.into_inner());
        let mut held = self.0.write().unwrap_or_else(|p| p.into_inner());
        for s in &theirs.lasting {
            if !held.holds(s) {
                held.lasting.push(s.clone());
            }
        }
        for s in &theirs.rotating {
            if !held.holds(s) {
                held.rotating.push_back(s.clone());
            }
        }
    }

    /// `text` with every secret (and any visible piece of one, 16 characters or more) replaced.
    pub fn redact(&self, text: &str) -> String {
        let held = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut out = text.to_string();
        for s in held.iter() {
            out = redact_one(&out, s);
        }
        out
    }

    /// Whether `bytes` contain a secret (or a visible piece of one).
    pub fn found_in(&self, bytes: &[u8]) -> bool {
        let held = self.0.read().unwrap_or_else(|p| p.into_inner());
        held.iter().any(|s| pieces(s).any(|p| memchr::memmem::find(bytes, p.as_bytes()).is_some()))
    }

    /// Whether `bytes` contain a whole secret. For refusing what a server names (a status or file address): a
    /// piece would also match the server's own signed tokens, whose JWT header is the same as Haul's token's.
    pub fn whole_in(&self, bytes: &[u8]) -> bool {
        let held = self.0.read().unwrap_or_else(|p| p.into_inner());
        held.iter().any(|s| memchr::memmem::find(bytes, s.as_bytes()).is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.0.read().map(|s| s.iter().next().is_none()).unwrap_or(true)
    }
}

/// `secret` as itself and as a server may write it back, each form once: form-encoded, JSON-escaped, JSON as
/// PHP writes it (`\/`), and as .NET writes it (`"`, `+`, `<`, `>`, `&`, `'` and `` ` `` as `\u00XX`).
fn written_forms(secret: &str) -> Vec<zeroize::Zeroizing<String>> {
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_string();
    let php = json.replace('/', "\\/");
    let mut dotnet = String::with_capacity(json.len());
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'"') => {
                chars.next();
                dotnet.push_str("\\u0022");
            }
            '+' | '<' | '>' | '&' | '\'' | '`' => dotnet.push_str(&format!("\\u{:04X}", c as u32)),
            c => dotnet.push(c),
        }
    }
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut forms: Vec<zeroize::Zeroizing<String>> = Vec::new();
    for f in [secret.to_string(), form, json, php, dotnet] {
        if !forms.iter().any(|x| x.as_str() == f) {
            forms.push(zeroize::Zeroizing::new(f));
        }
    }
    forms
}

/// What shows a secret is there: the secret itself, and the first 16 characters of each of its dot-separated
/// parts of 16+ characters (a JWT's header, claims, signature), which an excerpt cut short still shows.
fn pieces(secret: &str) -> impl Iterator<Item = &str> {
    std::iter::once(secret).chain(secret.split('.').filter(|p| p.len() >= VISIBLE).map(visible_start))
}

/// The first [`VISIBLE`] bytes of `part`, shortened to end on a character (a secret may hold any character).
fn visible_start(part: &str) -> &str {
    &part[..floor_boundary(part, VISIBLE)]
}

/// The largest character boundary of `text` at or before byte `at` (`str::floor_char_boundary`, newer than
/// the Rust this builds with).
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The shortest run of a secret's part that counts as showing it.
const VISIBLE: usize = 16;

/// Replaces `secret` (and any visible part of it of 16 characters or more) in `text`.
pub(crate) fn redact_one(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let mut out = text.replace(secret, REDACTED);
    // Excerpts are cut short: a part's visible start, as far as it goes on matching, must go too. One scan
    // for the start per part, then byte comparisons: this runs on every line of the export log.
    for part in secret.split('.').filter(|p| p.len() >= VISIBLE) {
        let visible = visible_start(part);
        if visible.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(found) = out[from..].find(visible) {
            let start = from + found;
            let len = out.as_bytes()[start..].iter().zip(part.as_bytes()).take_while(|(a, b)| a == b).count();
            // The bytes matched may end inside a character of `out`: the replacement ends before it.
            let end = floor_boundary(&out, start + len);
            out.replace_range(start..end, REDACTED);
            from = start + REDACTED.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_their_cut_pieces_are_replaced() {
        let s = Secrets::default();
        let token = "eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiJjbGllbnQtMSIsImV4cCI6MX0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWc";
        s.add(token);
        s.add("short");
        let echoed = format!("Authorization was Bearer {token}; again: Bearer {}…", &token[..40]);
        let clean = s.redact(&echoed);
        assert!(!clean.contains("eyJhbGciOiJSUzM4NCJ9"), "{clean}");
        assert!(!clean.contains("eyJzdWIiOiJjbGllbnQ"), "{clean}");
        assert!(clean.contains("Bearer [redacted]"));
        assert!(s.found_in(echoed.as_bytes()));
        assert!(!s.found_in(b"nothing here"));
        let cut = format!("echo: {}…", &token[..30]);
        assert!(s.found_in(cut.as_bytes()), "a cut excerpt still shows the secret");
        assert!(!s.redact(&cut).contains(&token[..20]), "{}", s.redact(&cut));
        assert_eq!(s.redact("short text"), "short text", "secrets under 8 characters are not held");
    }

    #[test]
    fn secrets_of_any_characters_are_cut_on_character_boundaries() {
        let s = Secrets::default();
        // "ß" takes bytes 15 and 16: the visible start ends before it.
        let password = "Sommer2024-Grüße!Winter2025-Grüße";
        s.add_lasting(password);
        let text = format!("proxy said: {} … {}", password, &password[..floor_boundary(password, 20)]);
        let clean = s.redact(&text);
        assert!(!clean.contains("Sommer2024-Grü"), "{clean}");
        assert!(s.found_in(text.as_bytes()));
    }

    #[test]
    fn lasting_secrets_outlive_any_number_of_tokens_and_urls_are_refused_only_for_whole_ones() {
        let s = Secrets::default();
        s.add_lasting("client-secret-that-lasts");
        for n in 0..1000 {
            s.add(&format!("eyJhbGciOiJSUzM4NCJ9.token-number-{n:06}-of-the-export.signature-{n:06}"));
        }
        assert_eq!(s.redact("echo client-secret-that-lasts"), "echo [redacted]");
        // The server's own signed URL shares the JWT header with Haul's tokens: not a whole secret.
        let signed = b"https://files.test/1?t=eyJhbGciOiJSUzM4NCJ9.eyJvd24iOiJzZXJ2ZXIifQ.c2ln";
        assert!(s.found_in(signed) && !s.whole_in(signed));
        assert!(s.whole_in(b"https://files.test/1?t=client-secret-that-lasts"));
    }

    #[test]
    fn a_secret_is_found_however_a_server_writes_it_back() {
        let s = Secrets::default();
        let secret = "Ab1~cd+ef/gh\"ij&kl";
        s.add(secret);
        for echoed in [
            "Ab1~cd+ef/gh\"ij&kl",                  // as it is
            "Ab1%7Ecd%2Bef%2Fgh%22ij%26kl",         // form-encoded, as a client_secret_post body
            r#"Ab1~cd+ef/gh\"ij&kl"#,               // JSON-escaped
            r#"Ab1~cd+ef\/gh\"ij&kl"#,              // PHP's
            r#"Ab1~cd\u002Bef/gh\u0022ij\u0026kl"#, // .NET's
        ] {
            let text = format!("the server said: {echoed}.");
            assert!(s.found_in(text.as_bytes()), "{echoed}");
            assert_eq!(s.redact(&text), "the server said: [redacted].", "{echoed}");
        }
    }
}
