//! Equality with a text, the commonest test in a view's `where()` (`code = 'text'`, `use = 'official'`), and
//! the shapes of expression that let it be decided without the general comparison.

use super::item::Item;
use super::{Expr, Literal, Op};

/// FHIRPath's `or` over three-valued logic (None: empty).
pub(super) fn or(x: Option<bool>, y: Option<bool>) -> Option<bool> {
    match (x, y) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// `items = 'text'` when the answer needs no conversion (None: a date or time, compared the general way).
pub(super) fn equals_text(items: &[Item<'_>], text: &str) -> Option<Option<bool>> {
    match items {
        [] => Some(None),
        [Item::Str(s, _)] if !items[0].is_temporal_typed() => Some(Some(s.as_ref() == text)),
        [x] if !x.is_temporal_typed() && !matches!(x, Item::Str(..)) => Some(Some(false)),
        [_] => None,
        _ => Some(Some(false)),
    }
}

/// `path = 'text'` (either way round): the path and the text.
pub(super) fn text_test(e: &Expr) -> Option<(&Expr, &str)> {
    match e {
        Expr::Binary(Op::Eq, l, r) => match (&**l, &**r) {
            (_, Expr::Literal(Literal::Str(s))) => Some((&**l, s.as_str())),
            (Expr::Literal(Literal::Str(s)), _) => Some((&**r, s.as_str())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether two expressions are the same chain of member names from the focus (`code`, `coding.code`).
pub(super) fn same_path(a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Member(x, m), Expr::Member(y, n)) => {
            m == n
                && match (x, y) {
                    (None, None) => true,
                    (Some(x), Some(y)) => same_path(x, y),
                    _ => false,
                }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{same_path, text_test};
    use crate::doc::{Doc, DocBuffers};
    use crate::fhirpath::{Context, Item, evaluate, parse};

    const RESOURCE: &str = r#"{"resourceType":"Observation","code":"b","codes":["a","b"],"n":3,"valueDate":"2020-01-01","coding":{"code":"a"}}"#;

    fn value(expr: &str) -> String {
        let mut buffers = DocBuffers::default();
        let doc = Doc::parse(RESOURCE, &mut buffers, None).expect("JSON");
        let ctx = Context { doc: &doc, resource: doc.root(), constants: &[], row_index: 0, shared: &[] };
        let items = evaluate(&parse(expr).unwrap(), &ctx, &[Item::Object(doc.root(), None)]).unwrap();
        format!("{:?}", items.iter().map(|i| i.to_json(&doc)).collect::<Vec<_>>())
    }

    #[test]
    fn two_tests_of_one_path_read_once_give_what_the_general_or_gives() {
        // The right side `(… = …) and true` is not a text test: the general `or`, to compare with.
        for (path, first, second) in [
            ("code", "a", "b"),
            ("code", "b", "c"),
            ("code", "x", "y"),
            ("missing", "a", "b"),
            ("codes", "a", "b"),
            ("n", "3", "x"),
            ("value", "2020-01-01", "x"),
            ("coding.code", "a", "z"),
        ] {
            let fused = value(&format!("{path} = '{first}' or '{second}' = {path}"));
            let general = value(&format!("{path} = '{first}' or (({path} = '{second}') and true)"));
            assert_eq!(fused, general, "{path} = '{first}' or '{second}'");
        }
        assert_eq!(value("code = 'a' or code = 'b'"), "[Bool(true)]");
        assert_eq!(value("code = 'x' or code = 'y'"), "[Bool(false)]");
        assert_eq!(value("missing = 'a' or missing = 'b'"), "[]");
        // Not one path: each side on its own.
        assert_eq!(value("code = 'x' or coding.code = 'a'"), "[Bool(true)]");
    }

    #[test]
    fn the_shapes_read_once_are_recognised_and_no_others() {
        let path = |e: &str| parse(e).unwrap();
        assert!(same_path(&path("code"), &path("code")));
        assert!(same_path(&path("coding.code"), &path("coding.code")));
        assert!(!same_path(&path("code"), &path("coding.code")));
        assert!(!same_path(&path("coding.code"), &path("system.code")));
        assert!(!same_path(&path("code.first()"), &path("code.first()")), "only member chains");
        let test = path("code = 'a'");
        let (on, text) = text_test(&test).unwrap();
        assert!(same_path(on, &path("code")) && text == "a");
        let reversed = path("'b' = coding.code");
        let (on, text) = text_test(&reversed).unwrap();
        assert!(same_path(on, &path("coding.code")) && text == "b");
        for other in ["code != 'a'", "code = 1", "code ~ 'a'", "code"] {
            assert!(text_test(&path(other)).is_none(), "{other}");
        }
    }
}
