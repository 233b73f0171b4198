//! Evaluating an expression over one resource's tree.

use smallvec::smallvec;
use std::borrow::Cow;
use std::cmp::Ordering;

use super::equality::{equals_text, or, same_path, text_test};
use super::item::{Item, Items, choice_type, push_node};
use super::reference::reference_key;
use super::{ChoiceOf, Expr, Function, Literal, Op};
use crate::decimal::Decimal;
use crate::doc::{Doc, NodeId};

/// Why an expression could not be evaluated on a resource (the view stops, naming the resource).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

type Out<'a> = Result<Items<'a>, EvalError>;

pub struct Context<'d, 'a> {
    pub doc: &'d Doc<'a>,
    /// The resource itself (`%resource`, `getResourceKey()` at the top).
    pub resource: NodeId,
    pub constants: &'d [(String, Vec<Item<'static>>)],
    /// `%rowIndex`: the position in the innermost `forEach`/`repeat`.
    pub row_index: i64,
    /// The values of the paths the select's columns share, read for this row (`Expr::Shared`).
    pub shared: &'d [Items<'a>],
}

/// A step's input: its base's items, or the focus itself (borrowed: most paths start there).
enum Input<'f, 'a> {
    Borrowed(&'f [Item<'a>]),
    Owned(Items<'a>),
}

impl<'a> Input<'_, 'a> {
    fn iter(&self) -> std::slice::Iter<'_, Item<'a>> {
        match self {
            Input::Borrowed(s) => s.iter(),
            Input::Owned(v) => v.iter(),
        }
    }

    fn into_owned(self) -> Items<'a> {
        match self {
            Input::Borrowed(s) => s.iter().cloned().collect(),
            Input::Owned(v) => v,
        }
    }
}

/// Evaluates `expr` with `focus` as its input collection.
pub fn evaluate<'a>(expr: &Expr, ctx: &Context<'_, 'a>, focus: &[Item<'a>]) -> Out<'a> {
    ctx.eval(expr, focus, None)
}

fn single<'x, 'a>(items: &'x [Item<'a>], what: &str) -> Result<Option<&'x Item<'a>>, EvalError> {
    match items {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        more => Err(EvalError(format!("{what} expects one value, the resource gives {}", more.len()))),
    }
}

/// A collection as a Boolean (FHIRPath singleton evaluation): empty is unknown, one non-Boolean item is true.
pub(super) fn truth(items: &[Item<'_>], what: &str) -> Result<Option<bool>, EvalError> {
    Ok(single(items, what)?.map(|i| match i {
        Item::Bool(b) => *b,
        _ => true,
    }))
}

fn boolean<'a>(b: Option<bool>) -> Items<'a> {
    b.map(Item::Bool).into_iter().collect()
}

impl<'a> Context<'_, 'a> {
    pub(super) fn eval(&self, e: &Expr, focus: &[Item<'a>], index: Option<i64>) -> Out<'a> {
        match e {
            Expr::Empty => Ok(Items::new()),
            Expr::Literal(l) => Ok(smallvec![match l {
                Literal::Bool(b) => Item::Bool(*b),
                Literal::Int(i) => Item::Int(*i),
                Literal::Decimal(d) => Item::Decimal(*d),
                Literal::Str(s) => Item::Str(Cow::Owned(s.clone()), None),
                Literal::Temporal(t) => Item::Temporal(*t),
            }]),
            Expr::This => Ok(focus.iter().cloned().collect()),
            Expr::IndexVar => Ok(index.map(Item::Int).into_iter().collect()),
            Expr::External(name) => Ok(match name.as_str() {
                "rowIndex" => smallvec![Item::Int(self.row_index)],
                "resource" | "rootResource" => smallvec![Item::Object(self.resource, None)],
                "context" => focus.iter().cloned().collect(),
                other => self
                    .constants
                    .iter()
                    .find(|(n, _)| n == other)
                    .map(|(_, v)| v.iter().cloned().collect())
                    .ok_or_else(|| EvalError(format!("%{other} is not defined")))?,
            }),
            Expr::Member(base, name) => {
                let mut out = Items::new();
                for item in self.input(base, focus, index)?.iter() {
                    self.member(item, name, base.is_none(), &mut out);
                }
                Ok(out)
            }
            Expr::Choice(base, name, of) => {
                let mut out = Items::new();
                for item in self.input(base, focus, index)?.iter() {
                    self.choice(item, name, of, &mut out);
                }
                Ok(out)
            }
            // Read only as far as needed (see `lazy`).
            Expr::Call(base, Function::First) => Ok(self.first_item(base, focus, index)?.into_iter().collect()),
            Expr::Call(base, Function::Exists(None)) => {
                Ok(smallvec![Item::Bool(self.first_item(base, focus, index)?.is_some())])
            }
            Expr::Call(base, f) => {
                let input = self.input(base, focus, index)?.into_owned();
                self.call(f, input, focus, index)
            }
            Expr::Index(base, at) => {
                let input = self.eval(base, focus, index)?;
                let at = self.eval(at, focus, index)?;
                match single(&at, "an index [ ]")? {
                    None => Ok(Items::new()),
                    Some(Item::Int(i)) => {
                        Ok(usize::try_from(*i).ok().and_then(|i| input.get(i).cloned()).into_iter().collect())
                    }
                    Some(_) => Err(EvalError("an index [ ] must be a whole number".into())),
                }
            }
            Expr::Negate(inner) => {
                let v = self.eval(inner, focus, index)?;
                Ok(match single(&v, "a minus sign")? {
                    None => Items::new(),
                    Some(Item::Int(i)) => smallvec![Item::Int(-i)],
                    Some(Item::Decimal(d)) => smallvec![Item::Decimal(Decimal { digits: -d.digits, scale: d.scale })],
                    Some(_) => return Err(EvalError("a minus sign needs a number".into())),
                })
            }
            Expr::TypeTest(inner, t, cast) => {
                let v = self.eval(inner, focus, index)?;
                if *cast {
                    Ok(v.into_iter().filter(|i| i.is_type(self.doc, t)).collect())
                } else {
                    Ok(single(&v, "is")?.map(|i| Item::Bool(i.is_type(self.doc, t))).into_iter().collect())
                }
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, focus, index),
            Expr::Shared(i) => Ok(self.shared[*i].clone()),
        }
    }

    /// What a step reads: its base's items, or the focus itself (borrowed: most paths start there).
    fn input<'f>(
        &'f self,
        base: &Option<Box<Expr>>,
        focus: &'f [Item<'a>],
        index: Option<i64>,
    ) -> Result<Input<'f, 'a>, EvalError> {
        Ok(match base {
            Some(b) if let Expr::Shared(i) = **b => Input::Borrowed(&self.shared[i]),
            Some(b) => Input::Owned(self.eval(b, focus, index)?),
            None => Input::Borrowed(focus),
        })
    }

    pub(super) fn member(&self, item: &Item<'a>, name: &str, at_start: bool, out: &mut Items<'a>) {
        let Item::Object(id, _) = item else { return };
        let doc = self.doc;
        if let Some(child) = doc.get(*id, name) {
            push_node(doc, child, None, out);
            return;
        }
        // `Patient.name`: a leading type name selects the resource when it is of that type.
        if at_start && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            if doc.get(*id, "resourceType").and_then(|r| doc.text(r)).is_some_and(|r| r == name) {
                out.push(item.clone());
            }
            return;
        }
        // A choice element: `value` finds `valueQuantity`, typed Quantity.
        for (key, child) in doc.members(*id) {
            if key.len() > name.len()
                && key.starts_with(name.as_bytes())
                && let Some(t) = choice_type(&key[name.len()..])
            {
                push_node(doc, child, Some(t), out);
            }
        }
    }

    /// `name.ofType(T)` read directly: the member `nameT` (`valueQuantity`), else `name`'s items of type T.
    pub(super) fn choice(&self, item: &Item<'a>, name: &str, of: &ChoiceOf, out: &mut Items<'a>) {
        let Item::Object(id, _) = item else { return };
        let doc = self.doc;
        if let Some(child) = doc.get(*id, &of.key) {
            push_node(doc, child, of.tag, out);
        } else if let Some(child) = doc.get(*id, name) {
            let mut plain = Items::new();
            push_node(doc, child, None, &mut plain);
            out.extend(plain.into_iter().filter(|i| i.is_type(doc, &of.fhir_type)));
        }
    }

    fn binary(&self, op: Op, l: &Expr, r: &Expr, focus: &[Item<'a>], index: Option<i64>) -> Out<'a> {
        // `code = 'text'`, the commonest test in a view's where(): compared in place, without making the literal
        // an item (a String) at every comparison. Anything but one plain string on the other side goes the
        // general way below, so the result is the same.
        if matches!(op, Op::Eq | Op::Ne) {
            let literal = match (l, r) {
                (_, Expr::Literal(Literal::Str(s))) => Some((l, s)),
                (Expr::Literal(Literal::Str(s)), _) => Some((r, s)),
                _ => None,
            };
            if let Some((other, text)) = literal {
                let a = self.eval(other, focus, index)?;
                if let Some(result) = equals_text(&a, text) {
                    return Ok(boolean(if op == Op::Ne { result.map(|r| !r) } else { result }));
                }
            }
        }
        // `code = 'a' or code = 'b'` (the claim-line views' where(), on every adjudication entry): the path read
        // once and compared with both texts. Same result as the two comparisons: each is the one above.
        if op == Op::Or
            && let (Some((x, first)), Some((y, second))) = (text_test(l), text_test(r))
            && same_path(x, y)
        {
            let a = self.eval(x, focus, index)?;
            if let (Some(p), Some(q)) = (equals_text(&a, first), equals_text(&a, second)) {
                return Ok(boolean(or(p, q)));
            }
        }
        let a = self.eval(l, focus, index)?;
        let b = self.eval(r, focus, index)?;
        let doc = self.doc;
        // Only for messages.
        let name = |op: Op| format!("{op:?}").to_lowercase();
        match op {
            Op::Union => {
                let mut out: Items<'a> = Items::with_capacity(a.len() + b.len());
                for i in a.into_iter().chain(b) {
                    if !out.iter().any(|o| o.equals(&i, doc) == Some(true)) {
                        out.push(i);
                    }
                }
                Ok(out)
            }
            Op::And | Op::Or | Op::Xor | Op::Implies => {
                let (x, y) = (truth(&a, "and/or")?, truth(&b, "and/or")?);
                Ok(boolean(match op {
                    Op::And => match (x, y) {
                        (Some(false), _) | (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    Op::Or => or(x, y),
                    Op::Xor => x.zip(y).map(|(x, y)| x != y),
                    _ => match (x, y) {
                        (Some(false), _) | (_, Some(true)) => Some(true),
                        (Some(true), Some(false)) => Some(false),
                        _ => None,
                    },
                }))
            }
            Op::Eq | Op::Ne | Op::Equiv | Op::NotEquiv => {
                let equivalence = matches!(op, Op::Equiv | Op::NotEquiv);
                let result = if a.is_empty() || b.is_empty() {
                    if equivalence { Some(a.is_empty() && b.is_empty()) } else { None }
                } else if a.len() != b.len() {
                    Some(false)
                } else {
                    let mut all = Some(true);
                    for (x, y) in a.iter().zip(&b) {
                        match x.equals(y, doc) {
                            Some(true) => {}
                            Some(false) => {
                                all = Some(false);
                                break;
                            }
                            None => all = if equivalence { Some(false) } else { None },
                        }
                    }
                    all
                };
                Ok(boolean(if matches!(op, Op::Ne | Op::NotEquiv) { result.map(|r| !r) } else { result }))
            }
            Op::Lt | Op::Gt | Op::Le | Op::Ge => {
                let (Some(x), Some(y)) = (single(&a, "a comparison")?, single(&b, "a comparison")?) else {
                    return Ok(Items::new());
                };
                let ord = x.compare(y).map_err(EvalError)?;
                Ok(boolean(ord.map(|o| match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Gt => o == Ordering::Greater,
                    Op::Le => o != Ordering::Greater,
                    _ => o != Ordering::Less,
                })))
            }
            Op::In | Op::Contains => {
                let (needle, hay) = if op == Op::In { (a, b) } else { (b, a) };
                let Some(n) = single(&needle, "in/contains")? else { return Ok(Items::new()) };
                Ok(smallvec![Item::Bool(hay.iter().any(|h| h.equals(n, doc) == Some(true)))])
            }
            Op::Concat => {
                let text = |v: &[Item<'a>]| -> Result<String, EvalError> {
                    Ok(single(v, "&")?.and_then(Item::text).unwrap_or("").to_string())
                };
                Ok(smallvec![Item::Str(Cow::Owned(text(&a)? + &text(&b)?), None)])
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::IntDiv | Op::Mod => {
                let (Some(x), Some(y)) = (single(&a, "arithmetic")?, single(&b, "arithmetic")?) else {
                    return Ok(Items::new());
                };
                if op == Op::Add
                    && let (Item::Str(s, _), Item::Str(t, _)) = (x, y)
                {
                    return Ok(smallvec![Item::Str(Cow::Owned(format!("{s}{t}")), None)]);
                }
                let (Some(dx), Some(dy)) = (x.number(), y.number()) else {
                    return Err(EvalError(format!("{} needs two numbers", name(op))));
                };
                let both_int = matches!((x, y), (Item::Int(_), Item::Int(_)));
                let result = match op {
                    Op::Add => dx.checked_add(dy),
                    Op::Sub => dx.checked_sub(dy),
                    Op::Mul => dx.checked_mul(dy),
                    Op::Div => dx.checked_div(dy),
                    Op::IntDiv => dx
                        .checked_div(dy)
                        .and_then(|q| q.at_scale(0).map(|_| q))
                        .map(|q| Decimal { digits: q.digits / 10i128.pow(q.scale), scale: 0 }),
                    _ => dx
                        .checked_div(dy)
                        .map(|q| Decimal { digits: q.digits / 10i128.pow(q.scale), scale: 0 })
                        .and_then(|whole| dx.checked_sub(whole.checked_mul(dy)?)),
                };
                let Some(r) = result else { return Ok(Items::new()) };
                Ok(smallvec![match (both_int && op != Op::Div, r.as_i64()) {
                    (true, Some(i)) => Item::Int(i),
                    _ => Item::Decimal(r),
                }])
            }
            Op::Is | Op::As => unreachable!("parsed as a type test"),
        }
    }

    fn call(&self, f: &Function, input: Items<'a>, focus: &[Item<'a>], index: Option<i64>) -> Out<'a> {
        let doc = self.doc;
        let each = |crit: &Expr, item: &Item<'a>, i: usize| self.eval(crit, std::slice::from_ref(item), Some(i as i64));
        Ok(match f {
            Function::First => input.into_iter().take(1).collect(),
            Function::Last => input.into_iter().next_back().into_iter().collect(),
            Function::Count => smallvec![Item::Int(input.len() as i64)],
            Function::Empty => smallvec![Item::Bool(input.is_empty())],
            Function::Not => boolean(truth(&input, "not()")?.map(|b| !b)),
            Function::HasValue => {
                smallvec![Item::Bool(matches!(input.as_slice(), [i] if !matches!(i, Item::Object(..))))]
            }
            Function::Distinct => {
                let mut out: Items<'a> = Items::new();
                for i in input {
                    if !out.iter().any(|o| o.equals(&i, doc) == Some(true)) {
                        out.push(i);
                    }
                }
                out
            }
            Function::Exists(None) => smallvec![Item::Bool(!input.is_empty())],
            Function::Exists(Some(crit)) | Function::Where(crit) | Function::All(crit) => {
                let mut kept = Items::new();
                let mut all = true;
                for (i, item) in input.iter().enumerate() {
                    let ok = truth(&each(crit, item, i)?, "the condition")? == Some(true);
                    all &= ok;
                    if ok {
                        kept.push(item.clone());
                    }
                }
                match f {
                    Function::Where(_) => kept,
                    Function::All(_) => smallvec![Item::Bool(all)],
                    _ => smallvec![Item::Bool(!kept.is_empty())],
                }
            }
            Function::Select(proj) => {
                let mut out = Items::new();
                for (i, item) in input.iter().enumerate() {
                    out.extend(each(proj, item, i)?);
                }
                out
            }
            Function::OfType(t) | Function::As(t) => input.into_iter().filter(|i| i.is_type(doc, t)).collect(),
            Function::Is(t) => single(&input, "is()")?.map(|i| Item::Bool(i.is_type(doc, t))).into_iter().collect(),
            Function::Extension(url) => {
                let url = self.eval(url, focus, index)?;
                let Some(url) = single(&url, "extension()")?.and_then(Item::text).map(str::to_string) else {
                    return Ok(Items::new());
                };
                let mut out = Items::new();
                for item in &input {
                    let Item::Object(id, _) = item else { continue };
                    let Some(list) = doc.get(*id, "extension") else { continue };
                    for &ext in doc.items(list) {
                        if doc.get(ext, "url").and_then(|u| doc.text(u)).is_some_and(|u| u == url) {
                            out.push(Item::Object(ext, Some("Extension")));
                        }
                    }
                }
                out
            }
            Function::Join(sep) => {
                let sep = match sep {
                    Some(s) => {
                        let v = self.eval(s, focus, index)?;
                        single(&v, "join()")?.and_then(Item::text).unwrap_or("").to_string()
                    }
                    None => String::new(),
                };
                let parts: Vec<&str> = input.iter().filter_map(Item::text).collect();
                smallvec![Item::Str(Cow::Owned(parts.join(&sep)), None)]
            }
            Function::GetResourceKey => input
                .iter()
                .filter_map(|i| match i {
                    Item::Object(id, _) => doc.get(*id, "id").and_then(|v| doc.text(v)).map(|t| Item::Str(t, None)),
                    _ => None,
                })
                .collect(),
            Function::GetReferenceKey(want) => input
                .iter()
                .filter_map(|i| match i {
                    Item::Object(id, _) => doc.get(*id, "reference").and_then(|v| doc.text(v)),
                    _ => None,
                })
                .filter_map(|r| match r {
                    Cow::Borrowed(r) => reference_key(r, want.as_deref()).map(|k| Item::Str(Cow::Borrowed(k), None)),
                    Cow::Owned(r) => {
                        reference_key(&r, want.as_deref()).map(|k| Item::Str(Cow::Owned(k.to_string()), None))
                    }
                })
                .collect(),
            Function::LowBoundary | Function::HighBoundary => {
                let high = matches!(f, Function::HighBoundary);
                let Some(item) = single(&input, "lowBoundary()/highBoundary()")? else { return Ok(Items::new()) };
                if let Some(d) = item.number() {
                    d.boundary(high).map(Item::Decimal).into_iter().collect()
                } else {
                    item.temporal(None).map(|t| Item::Temporal(t.boundary(high))).into_iter().collect()
                }
            }
            Function::Iif(cond, yes, no) => {
                let c = self.eval(cond, &input, index)?;
                if truth(&c, "iif()")? == Some(true) {
                    self.eval(yes, &input, index)?
                } else if let Some(no) = no {
                    self.eval(no, &input, index)?
                } else {
                    Items::new()
                }
            }
            Function::ToString => single(&input, "toString()")?
                .and_then(|i| match i {
                    Item::Object(..) => None,
                    Item::Str(s, _) => Some(s.to_string()),
                    other => Some(match other.to_json(doc) {
                        serde_json::Value::String(s) => s,
                        v => v.to_string(),
                    }),
                })
                .map(|s| Item::Str(Cow::Owned(s), None))
                .into_iter()
                .collect(),
            Function::Lower | Function::Upper => single(&input, "lower()/upper()")?
                .and_then(Item::text)
                .map(|s| {
                    let t = if matches!(f, Function::Lower) { s.to_lowercase() } else { s.to_uppercase() };
                    Item::Str(Cow::Owned(t), None)
                })
                .into_iter()
                .collect(),
            Function::StartsWith(arg) | Function::EndsWith(arg) | Function::Contains(arg) => {
                let arg = self.eval(arg, focus, index)?;
                let (Some(s), Some(a)) = (
                    single(&input, "a text function")?.and_then(Item::text),
                    single(&arg, "its argument")?.and_then(Item::text),
                ) else {
                    return Ok(Items::new());
                };
                smallvec![Item::Bool(match f {
                    Function::StartsWith(_) => s.starts_with(a),
                    Function::EndsWith(_) => s.ends_with(a),
                    _ => s.contains(a),
                })]
            }
            Function::Substring(start, length) => {
                let start = self.eval(start, focus, index)?;
                let length = match length {
                    Some(l) => Some(self.eval(l, focus, index)?),
                    None => None,
                };
                let Some(s) = single(&input, "substring()")?.and_then(Item::text) else { return Ok(Items::new()) };
                let Some(Item::Int(from)) = single(&start, "substring()")? else { return Ok(Items::new()) };
                let chars: Vec<char> = s.chars().collect();
                let Ok(from) = usize::try_from(*from) else { return Ok(Items::new()) };
                if from >= chars.len() {
                    return Ok(Items::new());
                }
                let len = match length.as_deref().map(|l| single(l, "substring()")) {
                    Some(Ok(Some(Item::Int(n)))) => usize::try_from(*n).unwrap_or(0),
                    Some(Err(e)) => return Err(e),
                    _ => chars.len(),
                };
                let end = from.saturating_add(len).min(chars.len());
                smallvec![Item::Str(Cow::Owned(chars[from..end].iter().collect()), None)]
            }
        })
    }
}
