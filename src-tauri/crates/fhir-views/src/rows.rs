//! The rows a view makes of one resource (SQL-on-FHIR v2 §"Processing algorithm"): each select node's rows
//! are its columns' values times its nested selects' rows times its unionAll's rows, once per focus of its
//! forEach, forEachOrNull or repeat.

use smallvec::{SmallVec, smallvec};

use crate::doc::Doc;
use crate::fhirpath::{Context, EvalError, Expr, Item, evaluate};
use crate::view::{Iterate, SelectNode, View};

/// One column's value in one row.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Null,
    One(Item<'a>),
    /// A `collection: true` column: all its values (perhaps none).
    Many(Vec<Item<'a>>),
}

pub type Row<'a> = Vec<Cell<'a>>;

impl View {
    /// The rows of one resource (nothing if it is of another type or a `where` says no). An error is the
    /// spec's: a `where` that is not true/false, a single-valued column with several values.
    pub fn rows<'a>(&self, doc: &Doc<'a>) -> Result<Vec<Row<'a>>, EvalError> {
        let root = doc.root();
        let resource_type = doc.get(root, "resourceType").and_then(|r| doc.text(r));
        if resource_type.as_deref() != Some(self.resource.as_str()) {
            return Ok(Vec::new());
        }
        let ctx = Context { doc, resource: root, constants: &self.constants, row_index: 0, shared: &[] };
        let focus = [Item::Object(root, None)];
        for w in &self.wheres {
            let v = evaluate(w, &ctx, &focus)?;
            match v.as_slice() {
                [] | [Item::Bool(false)] => return Ok(Vec::new()),
                [Item::Bool(true)] => {}
                _ => return Err(EvalError("a where path must give true or false".into())),
            }
        }
        self.node_rows(&self.root, doc, Some(&focus[0]), 0)
    }

    fn node_rows<'a>(
        &self,
        node: &SelectNode,
        doc: &Doc<'a>,
        focus: Option<&Item<'a>>,
        row_index: i64,
    ) -> Result<Vec<Row<'a>>, EvalError> {
        let ctx = |row_index| Context { doc, resource: doc.root(), constants: &self.constants, row_index, shared: &[] };
        // Inline for the common single focus: these run once per select node per resource.
        let foci: SmallVec<[(Option<Item<'a>>, i64); 1]> = match (&node.iterate, focus) {
            (_, None) => smallvec![(None, 0)],
            (Iterate::Once, Some(f)) => smallvec![(Some(f.clone()), row_index)],
            (Iterate::ForEach(e) | Iterate::ForEachOrNull(e), Some(f)) => {
                let items = evaluate(e, &ctx(row_index), std::slice::from_ref(f))?;
                if items.is_empty() && matches!(node.iterate, Iterate::ForEachOrNull(_)) {
                    smallvec![(None, 0)]
                } else {
                    items.into_iter().enumerate().map(|(i, it)| (Some(it), i as i64)).collect()
                }
            }
            (Iterate::Repeat(paths), Some(f)) => {
                let mut found = Vec::new();
                self.repeat(paths, f, &ctx(row_index), &mut found, 0)?;
                found.into_iter().enumerate().map(|(i, it)| (Some(it), i as i64)).collect()
            }
        };
        let mut rows = Vec::new();
        for (focus, index) in foci {
            let focus_list: &[Item<'a>] = focus.as_slice();
            let shared = node
                .shared
                .iter()
                .map(|e| evaluate(e, &ctx(index), focus_list))
                .collect::<Result<SmallVec<[_; 4]>, _>>()?;
            let ctx = Context { shared: &shared, ..ctx(index) };
            let mut own: Row<'a> = Vec::with_capacity(node.width);
            for (col, expr) in &node.columns {
                let spec = &self.columns[*col];
                let values = evaluate(expr, &ctx, focus_list)?;
                own.push(if spec.collection {
                    Cell::Many(values.into_vec())
                } else {
                    match values.len() {
                        0 => Cell::Null,
                        1 => Cell::One(values.into_iter().next().expect("one")),
                        n => {
                            return Err(EvalError(format!(
                                "the column '{}' gives {n} values; it is not a collection column (\"collection\": true)",
                                spec.name
                            )));
                        }
                    }
                });
            }
            if node.selects.is_empty() && node.union_all.is_empty() {
                rows.push(own);
                continue;
            }
            let mut product = vec![own];
            for sub in &node.selects {
                let sub_rows = self.node_rows(sub, doc, focus.as_ref(), index)?;
                product = cross(product, sub_rows);
            }
            if !node.union_all.is_empty() {
                let mut union = Vec::new();
                // Under a forEachOrNull's empty row there is one row, not one per branch.
                let branches = if focus.is_none() { &node.union_all[..1] } else { &node.union_all[..] };
                for branch in branches {
                    union.extend(self.node_rows(branch, doc, focus.as_ref(), index)?);
                }
                product = cross(product, union);
            }
            rows.extend(product);
        }
        Ok(rows)
    }

    /// Everything reachable from `item` by the paths, again and again, depth first; `item` itself not included.
    fn repeat<'a>(
        &self,
        paths: &[Expr],
        item: &Item<'a>,
        ctx: &Context<'_, 'a>,
        found: &mut Vec<Item<'a>>,
        depth: usize,
    ) -> Result<(), EvalError> {
        // The line's JSON nesting is bounded (256), so a tree walk is too; this guards against paths like `$this`.
        if depth > 256 {
            return Err(EvalError("repeat went deeper than 256 levels: does a path lead back to itself?".into()));
        }
        for p in paths {
            for child in evaluate(p, ctx, std::slice::from_ref(item))? {
                found.push(child.clone());
                self.repeat(paths, &child, ctx, found, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Every row of `left` joined with every row of `right`.
fn cross<'a>(mut left: Vec<Row<'a>>, right: Vec<Row<'a>>) -> Vec<Row<'a>> {
    // The common shapes, without copying: nothing on the left yet, or one row on the right.
    if left.len() == 1 && left[0].is_empty() {
        return right;
    }
    if right.len() == 1 {
        let r = &right[0];
        for l in &mut left {
            l.extend(r.iter().cloned());
        }
        return left;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in &right {
            // Made at its full width: a clone of `l` has room for `l` alone, and grew for `r`.
            let mut row = Vec::with_capacity(l.len() + r.len());
            row.extend(l.iter().cloned());
            row.extend(r.iter().cloned());
            out.push(row);
        }
    }
    out
}

/// For tests and previews: a whole resource's rows as JSON objects (column name → value).
pub fn rows_as_json(view: &View, line: &[u8]) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    let line = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut buffers = crate::doc::DocBuffers::default();
    let doc = Doc::parse(line, &mut buffers, Some(&view.keep)).map_err(|e| e.what.text().to_string())?;
    let rows = view.rows(&doc).map_err(|e| e.0)?;
    Ok(rows
        .iter()
        .map(|row| {
            view.columns
                .iter()
                .zip(row)
                .map(|(c, cell)| {
                    let v = match cell {
                        Cell::Null => serde_json::Value::Null,
                        Cell::One(i) => i.to_json(&doc),
                        Cell::Many(items) => serde_json::Value::Array(items.iter().map(|i| i.to_json(&doc)).collect()),
                    };
                    (c.name.clone(), v)
                })
                .collect()
        })
        .collect())
}
