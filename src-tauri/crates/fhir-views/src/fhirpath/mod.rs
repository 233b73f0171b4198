//! FHIRPath: the expressions of a view's `path`, `forEach`, `where` and `repeat`.

mod equality;
mod eval;
mod item;
mod lazy;
mod parse;
mod reference;

pub use eval::{Context, EvalError, evaluate};
pub use item::{Item, Items, TypeTag, push_node};
pub use parse::parse;

/// The FHIR type a `value[x]` suffix names (`Code` → `code`).
pub fn choice_tag(suffix: &str) -> TypeTag {
    item::choice_type(suffix.as_bytes())
}

use crate::decimal::Decimal;
use crate::temporal::Temporal;

#[derive(Debug, Clone)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Str(String),
    Temporal(Temporal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Is,
    As,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

#[derive(Debug, Clone)]
pub enum Expr {
    /// `{}`
    Empty,
    Literal(Literal),
    /// `$this`
    This,
    /// `$index`
    IndexVar,
    /// `%name`: a view constant, `%rowIndex`, `%resource`.
    External(String),
    /// `base.name`, or `name` on the focus.
    Member(Option<Box<Expr>>, String),
    /// `base.name.ofType(T)`, read as the choice element `nameT` in one step.
    Choice(Option<Box<Expr>>, String, ChoiceOf),
    Call(Option<Box<Expr>>, Function),
    Index(Box<Expr>, Box<Expr>),
    Negate(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `x is T` (false) / `x as T` (true).
    TypeTest(Box<Expr>, String, bool),
    /// A path several columns start with, read once per row (`shared_paths`): its index in the select's list.
    Shared(usize),
}

/// The type of `name.ofType(T)`, with the member it reads worked out once when the view is read (not for
/// every resource: that was an allocation per step).
#[derive(Debug, Clone)]
pub struct ChoiceOf {
    pub fhir_type: String,
    /// `valueQuantity` for `value.ofType(Quantity)`.
    pub key: String,
    /// The FHIR type that suffix names, if it is one.
    pub tag: TypeTag,
}

impl ChoiceOf {
    pub fn new(name: &str, fhir_type: String) -> ChoiceOf {
        let mut suffix = fhir_type.clone();
        if let Some(first) = suffix.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let tag = item::choice_type(suffix.as_bytes());
        ChoiceOf { key: format!("{name}{suffix}"), fhir_type, tag }
    }
}

/// The functions the engine has. A view naming any other is refused when it is read.
#[derive(Debug, Clone)]
pub enum Function {
    First,
    Last,
    Count,
    Empty,
    Not,
    HasValue,
    Exists(Option<Box<Expr>>),
    All(Box<Expr>),
    Where(Box<Expr>),
    Select(Box<Expr>),
    OfType(String),
    Is(String),
    As(String),
    Extension(Box<Expr>),
    Join(Option<Box<Expr>>),
    GetResourceKey,
    GetReferenceKey(Option<String>),
    LowBoundary,
    HighBoundary,
    Iif(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    ToString,
    StartsWith(Box<Expr>),
    EndsWith(Box<Expr>),
    Contains(Box<Expr>),
    Lower,
    Upper,
    Substring(Box<Expr>, Option<Box<Expr>>),
    Distinct,
}

/// The names [`Function::from_call`] knows, for messages.
pub const FUNCTION_NAMES: &[&str] = &[
    "first",
    "last",
    "count",
    "empty",
    "not",
    "hasValue",
    "exists",
    "all",
    "where",
    "select",
    "ofType",
    "is",
    "as",
    "extension",
    "join",
    "getResourceKey",
    "getReferenceKey",
    "lowBoundary",
    "highBoundary",
    "iif",
    "toString",
    "startsWith",
    "endsWith",
    "contains",
    "lower",
    "upper",
    "substring",
    "distinct",
];

fn type_argument(name: &str, arg: Expr) -> Result<String, String> {
    let mut e = &arg;
    let mut last = None;
    // `Patient`, `FHIR.Patient`, `System.String`: the last name is the type.
    loop {
        match e {
            Expr::Member(base, n) => {
                last.get_or_insert_with(|| n.clone());
                match base {
                    Some(b) => e = b,
                    None => break,
                }
            }
            _ => return Err(format!("{name}() takes a type name, such as {name}(Quantity)")),
        }
    }
    last.ok_or_else(|| format!("{name}() takes a type name"))
}

impl Function {
    pub fn from_call(name: &str, args: Vec<Expr>) -> Result<Function, String> {
        let n = args.len();
        let arity = |min: usize, max: usize| -> Result<(), String> {
            if n < min || n > max {
                let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                Err(format!("{name}() takes {want} {}, not {n}", if want == "1" { "argument" } else { "arguments" }))
            } else {
                Ok(())
            }
        };
        let mut args = args.into_iter().map(Box::new);
        let f = match name {
            "first" => arity(0, 0).map(|()| Function::First),
            "last" => arity(0, 0).map(|()| Function::Last),
            "count" => arity(0, 0).map(|()| Function::Count),
            "empty" => arity(0, 0).map(|()| Function::Empty),
            "not" => arity(0, 0).map(|()| Function::Not),
            "hasValue" => arity(0, 0).map(|()| Function::HasValue),
            "distinct" => arity(0, 0).map(|()| Function::Distinct),
            "toString" => arity(0, 0).map(|()| Function::ToString),
            "lower" => arity(0, 0).map(|()| Function::Lower),
            "upper" => arity(0, 0).map(|()| Function::Upper),
            "getResourceKey" => arity(0, 0).map(|()| Function::GetResourceKey),
            "lowBoundary" => arity(0, 1).map(|()| Function::LowBoundary),
            "highBoundary" => arity(0, 1).map(|()| Function::HighBoundary),
            "exists" => arity(0, 1).map(|()| Function::Exists(args.next())),
            "join" => arity(0, 1).map(|()| Function::Join(args.next())),
            "all" => arity(1, 1).map(|()| Function::All(args.next().expect("one"))),
            "where" => arity(1, 1).map(|()| Function::Where(args.next().expect("one"))),
            "select" => arity(1, 1).map(|()| Function::Select(args.next().expect("one"))),
            "extension" => arity(1, 1).map(|()| Function::Extension(args.next().expect("one"))),
            "startsWith" => arity(1, 1).map(|()| Function::StartsWith(args.next().expect("one"))),
            "endsWith" => arity(1, 1).map(|()| Function::EndsWith(args.next().expect("one"))),
            "contains" => arity(1, 1).map(|()| Function::Contains(args.next().expect("one"))),
            "substring" => arity(1, 2).map(|()| Function::Substring(args.next().expect("one"), args.next())),
            "iif" => {
                arity(2, 3).map(|()| Function::Iif(args.next().expect("one"), args.next().expect("two"), args.next()))
            }
            "ofType" | "is" | "as" => {
                arity(1, 1)?;
                let t = type_argument(name, *args.next().expect("one"))?;
                Ok(match name {
                    "ofType" => Function::OfType(t),
                    "is" => Function::Is(t),
                    _ => Function::As(t),
                })
            }
            "getReferenceKey" => {
                arity(0, 1)?;
                match args.next() {
                    Some(a) => Ok(Function::GetReferenceKey(Some(type_argument(name, *a)?))),
                    None => Ok(Function::GetReferenceKey(None)),
                }
            }
            _ => Err(format!("the function {name}() is not supported (supported: {})", FUNCTION_NAMES.join(", "))),
        }?;
        Ok(f)
    }
}
