//! The key a reference points to (`getReferenceKey()`).

/// The key of the resource a reference points to (its id), when the reference names one of type `want`.
/// Relative (`Patient/1`), absolute (`https://…/Patient/1`, `…/_history/2`) and `urn:uuid:` references are
/// understood; contained (`#x`) ones have no key. A part of `reference`, so a borrowed reference gives a
/// borrowed key (no copy per row).
pub(super) fn reference_key<'r>(reference: &'r str, want: Option<&str>) -> Option<&'r str> {
    if reference.starts_with('#') {
        return None;
    }
    if let Some(uuid) = reference.strip_prefix("urn:uuid:") {
        return want.is_none().then_some(uuid);
    }
    // By bytes, with memchr: a split on two chars decoded the reference char by char, and core's rsplit is
    // word by word (together 5 % of the observation view's instructions, for two references a resource).
    let end = memchr::memchr2(b'?', b'#', reference.as_bytes()).unwrap_or(reference.len());
    let path = &reference[..end];
    let mut parts = parts_from_the_end(path);
    let (mut id, mut kind) = (parts.next()?, parts.next()?);
    // `…/Patient/1/_history/2`: the version and its marker come last.
    if kind == "_history" {
        (id, kind) = (parts.next()?, parts.next()?);
    }
    if id.is_empty() || want.is_some_and(|w| w != kind) {
        return None;
    }
    Some(id)
}

/// `path.rsplit('/')`, with memchr's search (splitting at an ASCII '/' keeps every part a str).
fn parts_from_the_end(path: &str) -> impl Iterator<Item = &str> {
    let mut slashes = memchr::memrchr_iter(b'/', path.as_bytes());
    let (mut part_end, mut done) = (path.len(), false);
    std::iter::from_fn(move || match slashes.next() {
        _ if done => None,
        Some(at) => Some(&path[at + 1..std::mem::replace(&mut part_end, at)]),
        None => {
            done = true;
            Some(&path[..part_end])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{parts_from_the_end, reference_key};

    #[test]
    fn parts_from_the_end_are_rsplits() {
        for path in ["", "/", "//", "a", "a/", "/a", "a//b", "a/b/", "Patient/p1/_history/3", "é/ü/ß"] {
            let ours: Vec<&str> = parts_from_the_end(path).collect();
            assert_eq!(ours, path.rsplit('/').collect::<Vec<_>>(), "{path:?}");
        }
    }

    #[test]
    fn reference_keys() {
        assert_eq!(reference_key("Patient/p1", None), Some("p1"));
        assert_eq!(reference_key("Patient/p1", Some("Patient")), Some("p1"));
        assert_eq!(reference_key("Patient/p1", Some("Observation")), None);
        assert_eq!(reference_key("https://x.org/fhir/Patient/p1/_history/3", Some("Patient")), Some("p1"));
        assert_eq!(reference_key("Patient/p1/_history/3", Some("Patient")), Some("p1"));
        assert_eq!(reference_key("Patient/", None), None);
        assert_eq!(reference_key("p1", None), None);
        assert_eq!(reference_key("#c1", None), None);
        assert_eq!(reference_key("urn:uuid:abc", None), Some("abc"));
        assert_eq!(reference_key("Patient/p1?_format=json", Some("Patient")), Some("p1"));
        assert_eq!(reference_key("Patient/p1#x", None), Some("p1"));
        assert_eq!(reference_key("Patient/p1/_history/3?x=/a/b", Some("Patient")), Some("p1"));
    }
}
