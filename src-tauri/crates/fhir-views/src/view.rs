//! A ViewDefinition read and checked once: every path parsed, every constant and function known, the columns
//! and their order fixed. Whatever is wrong is said before any row is made.

use serde_json::Value;

use crate::decimal::Decimal;
use crate::doc::Keep;
use crate::fhirpath::{Expr, Function, Item, parse};
use crate::resource_types::is_resource_type;
use crate::temporal::{Temporal, TemporalKind};

/// Why a view is refused, in words that name the part of the view at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidView(pub String);

fn invalid<T>(text: impl Into<String>) -> Result<T, InvalidView> {
    Err(InvalidView(text.into()))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnSpec {
    pub name: String,
    /// The FHIR type the view gives (`date`, `decimal`…), if any.
    pub fhir_type: Option<String>,
    pub collection: bool,
    pub description: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Iterate {
    Once,
    ForEach(Expr),
    ForEachOrNull(Expr),
    Repeat(Vec<Expr>),
}

#[derive(Debug)]
pub(crate) struct SelectNode {
    pub iterate: Iterate,
    /// (column index in the view, expression)
    pub columns: Vec<(usize, Expr)>,
    pub selects: Vec<SelectNode>,
    pub union_all: Vec<SelectNode>,
    /// Columns this node spans.
    pub width: usize,
    /// Paths its columns share, read once per row (`shared_paths`).
    pub shared: Vec<Expr>,
}

#[derive(Debug)]
pub struct View {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub resource: String,
    pub columns: Vec<ColumnSpec>,
    /// The ViewDefinition as read (compact JSON): what a view kept up to date is compared by, to tell
    /// when its definition changed.
    pub definition: String,
    pub(crate) root: SelectNode,
    pub(crate) wheres: Vec<Expr>,
    pub(crate) constants: Vec<(String, Vec<Item<'static>>)>,
    /// The elements the view can reach by name; the others are passed over when reading.
    pub(crate) keep: Keep,
}

fn constant_value(c: &serde_json::Map<String, Value>, name: &str) -> Result<Item<'static>, InvalidView> {
    let values: Vec<(&String, &Value)> = c.iter().filter(|(k, _)| k.starts_with("value")).collect();
    let [(key, value)] = values.as_slice() else {
        return invalid(format!("the constant '{name}' needs exactly one value (valueString, valueInteger, …)"));
    };
    let kind = &key["value".len()..];
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| InvalidView(format!("the constant '{name}' ({key}) must be text")))
    };
    let temporal = |k: TemporalKind| -> Result<Item<'static>, InvalidView> {
        Temporal::parse(&text()?, k).map(Item::Temporal).ok_or_else(|| {
            InvalidView(format!("the constant '{name}' ({key}) is not a valid {}", &kind.to_lowercase()))
        })
    };
    Ok(match kind {
        "Boolean" => Item::Bool(
            value.as_bool().ok_or_else(|| InvalidView(format!("the constant '{name}' must be true or false")))?,
        ),
        "Integer" | "PositiveInt" | "UnsignedInt" | "Integer64" => Item::Int(
            value
                .as_i64()
                .ok_or_else(|| InvalidView(format!("the constant '{name}' ({key}) must be a whole number")))?,
        ),
        "Decimal" => Item::Decimal(
            value
                .as_number()
                .and_then(|n| Decimal::parse(&n.to_string()))
                .ok_or_else(|| InvalidView(format!("the constant '{name}' ({key}) must be a number")))?,
        ),
        "Date" => temporal(TemporalKind::Date)?,
        "DateTime" | "Instant" => temporal(TemporalKind::DateTime)?,
        "Time" => temporal(TemporalKind::Time)?,
        "String" | "Code" | "Id" | "Uri" | "Url" | "Canonical" | "Oid" | "Uuid" | "Base64Binary" | "Markdown" => {
            let tag = crate::fhirpath::choice_tag(kind);
            Item::Str(text()?.into(), tag)
        }
        other => return invalid(format!("the constant '{name}' has a value{other}, which views cannot use")),
    })
}

struct Compiler {
    columns: Vec<ColumnSpec>,
    constants: Vec<String>,
}

impl Compiler {
    fn path(&self, text: &Value, place: &str) -> Result<Expr, InvalidView> {
        let Some(text) = text.as_str() else { return invalid(format!("{place} must be a FHIRPath text")) };
        let e = parse(text).map_err(|why| InvalidView(format!("{place} '{text}': {why}")))?;
        self.check_constants(&e, place)?;
        Ok(e)
    }

    fn check_constants(&self, e: &Expr, place: &str) -> Result<(), InvalidView> {
        let mut result = Ok(());
        visit(e, &mut |e| {
            if let Expr::External(n) = e
                && !["rowIndex", "resource", "rootResource", "context"].contains(&n.as_str())
                && !self.constants.contains(n)
                && result.is_ok()
            {
                result = invalid(format!("{place} uses %{n}, which the view does not define as a constant"));
            }
        });
        result
    }

    fn select(&mut self, s: &Value, place: &str) -> Result<SelectNode, InvalidView> {
        let Some(s) = s.as_object() else { return invalid(format!("{place} must be an object")) };
        let first = self.columns.len();
        let iterate = match (s.get("forEach"), s.get("forEachOrNull"), s.get("repeat")) {
            (None, None, None) => Iterate::Once,
            (Some(p), None, None) => Iterate::ForEach(self.path(p, &format!("{place}.forEach"))?),
            (None, Some(p), None) => Iterate::ForEachOrNull(self.path(p, &format!("{place}.forEachOrNull"))?),
            (None, None, Some(Value::Array(paths))) if !paths.is_empty() => Iterate::Repeat(
                paths.iter().map(|p| self.path(p, &format!("{place}.repeat"))).collect::<Result<_, _>>()?,
            ),
            (None, None, Some(_)) => return invalid(format!("{place}.repeat must be a list of paths")),
            _ => return invalid(format!("{place} may have only one of forEach, forEachOrNull and repeat")),
        };
        let mut columns = Vec::new();
        for (i, c) in list(s.get("column"), &format!("{place}.column"))?.iter().enumerate() {
            let here = format!("{place}.column[{i}]");
            let Some(c) = c.as_object() else { return invalid(format!("{here} must be an object")) };
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                return invalid(format!("{here} needs a name"));
            };
            if !valid_name(name) {
                return invalid(format!(
                    "the column name '{name}' is not allowed: use letters, digits and _, starting with a letter"
                ));
            }
            let path = self.path(c.get("path").unwrap_or(&Value::Null), &format!("column '{name}' path"))?;
            let collection = match c.get("collection") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return invalid(format!("column '{name}': collection must be true or false")),
            };
            let fhir_type = match c.get("type") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(t.clone()),
                Some(_) => return invalid(format!("column '{name}': type must be a FHIR type name")),
            };
            let description = c.get("description").and_then(Value::as_str).map(str::to_string);
            self.columns.push(ColumnSpec { name: name.to_string(), fhir_type, collection, description });
            columns.push((self.columns.len() - 1, path));
        }
        let mut selects = Vec::new();
        for (i, sub) in list(s.get("select"), &format!("{place}.select"))?.iter().enumerate() {
            selects.push(self.select(sub, &format!("{place}.select[{i}]"))?);
        }
        let mut union_all = Vec::new();
        let branches = list(s.get("unionAll"), &format!("{place}.unionAll"))?;
        let union_first = self.columns.len();
        for (i, branch) in branches.iter().enumerate() {
            let before = self.columns.len();
            let node = self.select(branch, &format!("{place}.unionAll[{i}]"))?;
            if i > 0 {
                // Every branch gives the same columns, in the same order; the first branch's stay.
                let names = |cols: &[ColumnSpec]| cols.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
                let mine = names(&self.columns[before..]);
                let theirs = names(&self.columns[union_first..union_first + node.width]);
                if mine != theirs {
                    return invalid(format!(
                        "{place}.unionAll[{i}] gives the columns {mine:?}, but the first branch gives {theirs:?}: every branch needs the same columns in the same order"
                    ));
                }
                self.columns.truncate(before);
                let mut node = node;
                node.renumber(before - union_first);
                union_all.push(node);
                continue;
            }
            union_all.push(node);
        }
        if columns.is_empty() && selects.is_empty() && union_all.is_empty() {
            return invalid(format!("{place} has no column, select or unionAll"));
        }
        let width = self.columns.len() - first;
        Ok(SelectNode { iterate, columns, selects, union_all, width, shared: Vec::new() })
    }
}

/// The element names a view's expressions use, to pass the others over when reading (see [`Keep`]), with
/// those the functions read themselves.
fn keep_of(root: &SelectNode, wheres: &[Expr]) -> Keep {
    let mut names = Vec::new();
    let mut see = |e: &Expr| match e {
        Expr::Member(_, n) | Expr::Choice(_, n, _) => names.push(n.clone()),
        Expr::Call(_, Function::Extension(_)) => names.extend(["extension".to_string(), "url".to_string()]),
        Expr::Call(_, Function::GetReferenceKey(_)) => names.push("reference".to_string()),
        _ => {}
    };
    fn walk(node: &SelectNode, see: &mut dyn FnMut(&Expr)) {
        match &node.iterate {
            Iterate::Once => {}
            Iterate::ForEach(e) | Iterate::ForEachOrNull(e) => visit(e, see),
            Iterate::Repeat(paths) => paths.iter().for_each(|e| visit(e, see)),
        }
        for (_, e) in &node.columns {
            visit(e, see);
        }
        for n in node.selects.iter().chain(&node.union_all) {
            walk(n, see);
        }
    }
    walk(root, &mut see);
    for w in wheres {
        visit(w, &mut see);
    }
    Keep::new(names)
}

impl SelectNode {
    /// A later unionAll branch writes into the first branch's columns: its indices move down by `by`.
    fn renumber(&mut self, by: usize) {
        for (i, _) in &mut self.columns {
            *i -= by;
        }
        for n in self.selects.iter_mut().chain(self.union_all.iter_mut()) {
            n.renumber(by);
        }
    }
}

fn list<'v>(v: Option<&'v Value>, place: &str) -> Result<&'v [Value], InvalidView> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => invalid(format!("{place} must be a list")),
    }
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Calls `f` on every expression inside `e`, `e` included.
pub(crate) fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    let mut go = |x: &Expr| visit(x, f);
    match e {
        Expr::Member(Some(b), _) | Expr::Choice(Some(b), _, _) => go(b),
        Expr::Call(b, func) => {
            if let Some(b) = b {
                go(b);
            }
            match func {
                Function::Exists(Some(x)) | Function::Join(Some(x)) => go(x),
                Function::All(x)
                | Function::Where(x)
                | Function::Select(x)
                | Function::Extension(x)
                | Function::StartsWith(x)
                | Function::EndsWith(x)
                | Function::Contains(x) => go(x),
                Function::Iif(a, b, c) => {
                    go(a);
                    go(b);
                    if let Some(c) = c {
                        go(c);
                    }
                }
                Function::Substring(a, b) => {
                    go(a);
                    if let Some(b) = b {
                        go(b);
                    }
                }
                _ => {}
            }
        }
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            go(a);
            go(b);
        }
        Expr::Negate(a) | Expr::TypeTest(a, _, _) => go(a),
        _ => {}
    }
}

impl View {
    /// Reads a ViewDefinition. `fallback_name` names it when it has no `name` (its file's name).
    pub fn from_json(json: &Value, fallback_name: &str) -> Result<View, InvalidView> {
        let Some(v) = json.as_object() else { return invalid("a ViewDefinition must be a JSON object") };
        if let Some(t) = v.get("resourceType").and_then(Value::as_str)
            && t != "ViewDefinition"
        {
            return invalid(format!("this is a {t}, not a ViewDefinition"));
        }
        let Some(resource) = v.get("resource").and_then(Value::as_str) else {
            return invalid("the view does not say which resource type it reads ('resource')");
        };
        if !is_resource_type(resource) {
            return invalid(format!("'{resource}' is not a FHIR resource type"));
        }
        let name = v.get("name").and_then(Value::as_str).unwrap_or(fallback_name).to_string();
        let mut constants = Vec::new();
        for (i, c) in list(v.get("constant"), "constant")?.iter().enumerate() {
            let Some(c) = c.as_object() else { return invalid(format!("constant[{i}] must be an object")) };
            let Some(cname) = c.get("name").and_then(Value::as_str) else {
                return invalid(format!("constant[{i}] needs a name"));
            };
            if constants.iter().any(|(n, _): &(String, _)| n == cname) {
                return invalid(format!("the constant '{cname}' is defined twice"));
            }
            constants.push((cname.to_string(), vec![constant_value(c, cname)?]));
        }
        let mut compiler =
            Compiler { columns: Vec::new(), constants: constants.iter().map(|(n, _)| n.clone()).collect() };
        let selects = list(v.get("select"), "select")?;
        if selects.is_empty() {
            return invalid("the view has no select: it would make no columns");
        }
        let root_select = serde_json::json!({ "select": selects });
        let root = compiler.select(&root_select, "select")?;
        let mut seen = std::collections::HashSet::new();
        for c in &compiler.columns {
            if !seen.insert(c.name.as_str()) {
                return invalid(format!("the column name '{}' is used twice", c.name));
            }
        }
        let mut wheres = Vec::new();
        for (i, w) in list(v.get("where"), "where")?.iter().enumerate() {
            let path = w.get("path").unwrap_or(&Value::Null);
            wheres.push(compiler.path(path, &format!("where[{i}]"))?);
        }
        let keep = keep_of(&root, &wheres);
        let mut root = root;
        crate::shared_paths::share_paths(&mut root);
        Ok(View {
            keep,
            name,
            title: v.get("title").and_then(Value::as_str).map(str::to_string),
            description: v.get("description").and_then(Value::as_str).map(str::to_string),
            resource: resource.to_string(),
            columns: compiler.columns,
            definition: json.to_string(),
            root,
            wheres,
            constants,
        })
    }
}
