//! The elements of one array member of a JSON object (an OperationOutcome's `issue`, a Bundle's `entry`),
//! handed over one at a time as they are read, never as a tree of the whole line. A line may be 64 MB, and a
//! `serde_json::Value` of it can take many times that (`[{},{},…]` costs some 80 bytes per 3-byte element).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Calls `each` with every element of the array `key` of the object in `line`, as `T` (elements that are not
/// a `T` stop the walk). Nothing happens when the line is not such an object.
pub(super) fn each_element<T, F>(line: &[u8], key: &str, each: F)
where
    T: for<'de> Deserialize<'de>,
    F: FnMut(T),
{
    let mut de = serde_json::Deserializer::from_slice(line);
    let _ = de.deserialize_map(Object { key, each, element: PhantomData });
}

struct Object<'k, T, F> {
    key: &'k str,
    each: F,
    element: PhantomData<T>,
}

impl<'de, T, F> Visitor<'de> for Object<'_, T, F>
where
    T: for<'a> Deserialize<'a>,
    F: FnMut(T),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if name == self.key {
                map.next_value_seed(Elements { each: &mut self.each, element: PhantomData::<T> })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Elements<'f, T, F> {
    each: &'f mut F,
    element: PhantomData<T>,
}

impl<'de, T, F> DeserializeSeed<'de> for Elements<'_, T, F>
where
    T: for<'a> Deserialize<'a>,
    F: FnMut(T),
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, F> Visitor<'de> for Elements<'_, T, F>
where
    T: for<'a> Deserialize<'a>,
    F: FnMut(T),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            (self.each)(element);
        }
        Ok(())
    }
}

/// An object's fields as a `T`, and anything else (text, a number, an array, null) as `None`, skipped unread:
/// one odd element does not stop the walk, as the tree this replaced did not.
pub(super) struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

/// Text, and anything else as `None`.
#[derive(Default)]
pub(super) struct LenientText(pub Option<String>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Only { objects: true, wanted: PhantomData::<T> }).map(Lenient)
    }
}

impl<'de> Deserialize<'de> for LenientText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Only { objects: false, wanted: PhantomData::<String> }).map(LenientText)
    }
}

/// Takes a `T` from an object (when `objects`) or from a string (when a `T` reads from one); anything else is
/// skipped and `None`.
struct Only<T> {
    objects: bool,
    wanted: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Only<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.objects {
            return T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some);
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(T::deserialize(serde::de::value::StrDeserializer::<E>::new(v)).ok())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Named {
        name: Option<String>,
    }

    #[test]
    fn elements_come_one_at_a_time_and_other_members_are_skipped() {
        let line =
            br#"{"before":{"deep":[1,2,{"x":null}]},"items":[{"name":"a"},{},{"name":"b","more":[1]}],"after":1}"#;
        let mut names = Vec::new();
        each_element(line, "items", |n: Named| names.push(n.name));
        assert_eq!(names, [Some("a".into()), None, Some("b".into())]);
        // Odd elements and odd fields are skipped, and the walk goes on.
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Loose {
            name: LenientText,
            inner: Lenient<Named>,
        }
        let line = br#"{"items":[null,{"name":7,"inner":"x"},{"name":"c","inner":{"name":"d"}},[1,{"a":2}],"t"]}"#;
        let mut got = Vec::new();
        each_element(line, "items", |l: Lenient<Loose>| {
            let l = l.0.unwrap_or_default();
            got.push((l.name.0, l.inner.0.and_then(|n| n.name)));
        });
        assert_eq!(got, [(None, None), (None, None), (Some("c".into()), Some("d".into())), (None, None), (None, None)]);
        let mut seen = 0;
        each_element(b"[1,2]", "items", |_: Named| seen += 1);
        each_element(br#"{"items":7}"#, "items", |_: Named| seen += 1);
        assert_eq!(seen, 0);
    }
}
