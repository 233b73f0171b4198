//! Paths read only as far as their result is needed: `first()` stops at the first item and `exists()` at
//! any, so `adjudication.where(…).amount.value.first()` tests the condition until it holds rather than on
//! every entry (the claim-line views do that five times a line, over six entries). Only the steps that
//! read the resource stream (members, choice elements, `where`, `first`); anything else is evaluated whole
//! and handed on item by item. A condition that would fail on a later item is then not reached: the
//! result is the one the whole evaluation gives when it succeeds.

use std::ops::ControlFlow;

use super::eval::{Context, EvalError, truth};
use super::item::{Item, Items};
use super::{Expr, Function};

/// What to do with the next item: go on, or stop (enough was seen).
pub(super) type Next<'f, 'a> = &'f mut dyn FnMut(Item<'a>) -> Result<ControlFlow<()>, EvalError>;

impl<'a> Context<'_, 'a> {
    /// Hands `e`'s items to `next` in order until it says stop; Break when it did.
    pub(super) fn each(
        &self,
        e: &Expr,
        focus: &[Item<'a>],
        index: Option<i64>,
        next: Next<'_, 'a>,
    ) -> Result<ControlFlow<()>, EvalError> {
        match e {
            Expr::Member(base, name) => {
                let at_start = base.is_none();
                self.each_input(base, focus, index, &mut |item| {
                    let mut found = Items::new();
                    self.member(&item, name, at_start, &mut found);
                    hand_on(found, next)
                })
            }
            Expr::Choice(base, name, of) => self.each_input(base, focus, index, &mut |item| {
                let mut found = Items::new();
                self.choice(&item, name, of, &mut found);
                hand_on(found, next)
            }),
            Expr::Call(base, Function::Where(condition)) => {
                let mut position = 0i64;
                self.each_input(base, focus, index, &mut |item| {
                    let holds = self.eval(condition, std::slice::from_ref(&item), Some(position))?;
                    position += 1;
                    if truth(&holds, "the condition")? == Some(true) {
                        next(item)
                    } else {
                        Ok(ControlFlow::Continue(()))
                    }
                })
            }
            Expr::Call(base, Function::First) => match self.first_item(base, focus, index)? {
                Some(item) => next(item),
                None => Ok(ControlFlow::Continue(())),
            },
            _ => hand_on(self.eval(e, focus, index)?, next),
        }
    }

    /// The first item of what a step reads (`first()`; `exists()` asks whether there is one).
    pub(super) fn first_item(
        &self,
        base: &Option<Box<Expr>>,
        focus: &[Item<'a>],
        index: Option<i64>,
    ) -> Result<Option<Item<'a>>, EvalError> {
        let mut first = None;
        // Stopped or not, `first` says what was found.
        let _ = self.each_input(base, focus, index, &mut |item| {
            first = Some(item);
            Ok(ControlFlow::Break(()))
        })?;
        Ok(first)
    }

    /// What a step reads, item by item: its base's items, or the focus.
    pub(super) fn each_input(
        &self,
        base: &Option<Box<Expr>>,
        focus: &[Item<'a>],
        index: Option<i64>,
        next: Next<'_, 'a>,
    ) -> Result<ControlFlow<()>, EvalError> {
        let items = match base {
            Some(b) if let Expr::Shared(i) = **b => &self.shared[i],
            Some(b) => return self.each(b, focus, index, next),
            None => focus,
        };
        for item in items {
            if next(item.clone())?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

fn hand_on<'a>(items: Items<'a>, next: Next<'_, 'a>) -> Result<ControlFlow<()>, EvalError> {
    for item in items {
        if next(item)?.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

#[cfg(test)]
mod tests {
    use crate::doc::{Doc, DocBuffers};
    use crate::fhirpath::{Context, Item, evaluate, parse};

    /// `expr` over `resource`, each value as JSON text.
    fn values(resource: &str, expr: &str) -> Result<Vec<String>, String> {
        let mut buffers = DocBuffers::default();
        let doc = Doc::parse(resource, &mut buffers, None).expect("JSON");
        let ctx = Context { doc: &doc, resource: doc.root(), constants: &[], row_index: 0, shared: &[] };
        let items = evaluate(&parse(expr)?, &ctx, &[Item::Object(doc.root(), None)]).map_err(|e| e.0)?;
        Ok(items.iter().map(|i| i.to_json(&doc).to_string()).collect())
    }

    const PATIENT: &str = r#"{"resourceType":"Patient","name":[{"use":"nickname","given":["Al"]},{"use":"official","given":["Alan","Mathison"]},{"use":"official","given":["Turing"]}]}"#;

    #[test]
    fn first_and_exists_read_in_order_and_stop_where_the_whole_evaluation_agrees() {
        let one = |e| values(PATIENT, e).unwrap();
        assert_eq!(one("name.where(use = 'official').given.first()"), ["\"Alan\""]);
        assert_eq!(one("name.where(use = 'official').given"), ["\"Alan\"", "\"Mathison\"", "\"Turing\""]);
        assert_eq!(one("name.given.first()"), ["\"Al\""]);
        assert_eq!(one("name.where(use = 'usual').given.first()"), Vec::<String>::new());
        assert_eq!(one("name.where(use = 'official').exists()"), ["true"]);
        assert_eq!(one("name.where(use = 'usual').exists()"), ["false"]);
        assert_eq!(one("name.first().where(given.first() = 'Al').use"), ["\"nickname\""]);
        // `$index` inside a streamed where() is the item's place in its input.
        assert_eq!(one("name.where($index = 2).given.first()"), ["\"Turing\""]);
    }

    #[test]
    fn a_condition_is_tested_up_to_the_first_match_and_no_further() {
        // A condition giving two values is an error (`given` of a name with two given names)…
        let two_first = r#"{"resourceType":"Patient","name":[{"given":["A","B"]},{"given":["C"]}]}"#;
        assert!(values(two_first, "name.where(given).first()").unwrap_err().contains("one value"));
        assert!(values(two_first, "name.where(given).exists()").is_err());
        // …reached before the match it stops the path; after it, it is not reached.
        let two_last = r#"{"resourceType":"Patient","name":[{"given":["C"]},{"given":["A","B"]}]}"#;
        assert_eq!(values(two_last, "name.where(given).first().given").unwrap(), ["\"C\""]);
        assert!(values(two_last, "name.where(given).given").is_err());
    }
}
