//! A path several columns of one select start with (`code.coding.first()` before `.system`, `.code` and
//! `.display`; `value.ofType(Quantity)` before `.value`, `.unit`, `.code`) is read once per row, not once
//! per column: the built-in `observation` view reads its resource 17 times, 7 of them through `value`.
//! Only paths that read the resource and cannot fail are shared (members, choice elements, `first()`), so
//! every row holds the values, and every resource the errors, the columns give each on their own.

use crate::fhirpath::{Expr, Function};
use crate::view::SelectNode;

/// Rewrites the columns of `node` and of the selects under it to read shared paths (`Expr::Shared`).
pub(crate) fn share_paths(node: &mut SelectNode) {
    node.shared = share(&mut node.columns);
    for n in node.selects.iter_mut().chain(node.union_all.iter_mut()) {
        share_paths(n);
    }
}

/// A path that reads the resource and cannot fail.
fn plain(e: &Expr) -> bool {
    let base = match e {
        Expr::Member(base, _) | Expr::Choice(base, _, _) | Expr::Call(base, Function::First) => base,
        _ => return false,
    };
    base.as_deref().is_none_or(plain)
}

/// The step's input, when it is read from a base (the spine of a path: `a.b.first().c` → `a.b.first()`).
fn base_of(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Member(Some(b), _) | Expr::Choice(Some(b), _, _) | Expr::Call(Some(b), _) => Some(b),
        _ => None,
    }
}

fn base_of_mut(e: &mut Expr) -> Option<&mut Box<Expr>> {
    match e {
        Expr::Member(Some(b), _) | Expr::Choice(Some(b), _, _) | Expr::Call(Some(b), _) => Some(b),
        _ => None,
    }
}

/// The plain bases of `e`, longest first, each with its text (how two are found to be the same path).
fn prefixes(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = base_of(e);
    while let Some(b) = at {
        if plain(b) {
            out.push(format!("{b:?}"));
        }
        at = base_of(b);
    }
    out
}

fn share(columns: &mut [(usize, Expr)]) -> Vec<Expr> {
    let all: Vec<Vec<String>> = columns.iter().map(|(_, e)| prefixes(e)).collect();
    let used_by = |key: &String| all.iter().filter(|p| p.contains(key)).count();
    let mut keys: Vec<String> = Vec::new();
    let mut shared = Vec::new();
    for ((_, e), mine) in columns.iter_mut().zip(&all) {
        let Some(key) = mine.iter().find(|k| used_by(k) >= 2) else { continue };
        let index = match keys.iter().position(|k| k == key) {
            Some(i) => i,
            None => {
                keys.push(key.clone());
                shared.push(Expr::Empty);
                keys.len() - 1
            }
        };
        // Walk down to the step whose base is that path, and read the shared value there instead.
        let mut at = e;
        while let Some(b) = base_of_mut(at) {
            if format!("{b:?}") == *key {
                let path = std::mem::replace(&mut **b, Expr::Shared(index));
                shared[index] = path;
                break;
            }
            at = b;
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::share;
    use crate::fhirpath::{Expr, parse};

    fn columns(paths: &[&str]) -> Vec<(usize, Expr)> {
        paths.iter().enumerate().map(|(i, p)| (i, parse(p).unwrap())).collect()
    }

    #[test]
    fn the_longest_path_two_columns_start_with_is_shared() {
        let mut c = columns(&[
            "code.coding.first().system",
            "code.coding.first().code",
            "value.ofType(Quantity).value",
            "value.ofType(Quantity).unit",
            "id",
            "code.text",
        ]);
        let shared = share(&mut c);
        let text = |e: &Expr| format!("{e:?}");
        assert_eq!(shared.len(), 3, "{shared:?}");
        assert_eq!(text(&shared[0]), text(&parse("code.coding.first()").unwrap()));
        assert_eq!(text(&shared[1]), text(&parse("value.ofType(Quantity)").unwrap()));
        assert_eq!(text(&shared[2]), text(&parse("code").unwrap()));
        assert!(matches!(&c[0].1, Expr::Member(Some(b), n) if matches!(**b, Expr::Shared(0)) && n == "system"));
        assert!(matches!(&c[3].1, Expr::Member(Some(b), n) if matches!(**b, Expr::Shared(1)) && n == "unit"));
        assert!(matches!(&c[4].1, Expr::Member(None, n) if n == "id"));
        assert!(matches!(&c[5].1, Expr::Member(Some(b), n) if matches!(**b, Expr::Shared(2)) && n == "text"));
    }

    #[test]
    fn paths_that_can_fail_or_compute_are_not_shared() {
        let mut c = columns(&[
            "name.where(use = 'official').given",
            "name.where(use = 'official').family",
            "a.b + 1",
            "a.b + 2",
        ]);
        let shared = share(&mut c);
        // Only `name` (under the where) is shared: the where() and the sums are each column's own.
        assert_eq!(shared.len(), 1, "{shared:?}");
        assert_eq!(format!("{:?}", shared[0]), format!("{:?}", parse("name").unwrap()));
    }
}
