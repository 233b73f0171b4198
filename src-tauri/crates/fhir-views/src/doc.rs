//! One resource line as a read-only tree over the line: nodes hold offsets into it, so no string is copied,
//! and the tree's vectors are kept from line to line ([`DocBuffers`]), so a resource costs no allocation.
//! Views read most of a resource and skip the rest, so a tree beats re-scanning the text per path, and
//! borrowing beats `serde_json::Value` (which owns every key and string). Measured on the scaled Synthea
//! Observations: octofhir-sof over `serde_json::Value` evaluated 2.4 MB/s; this tree and evaluator, over 100.
//!
//! A view names only some elements; the others are passed over at every level ([`Keep`]): checked as JSON,
//! kept as raw text, never built into the tree (a third of the nodes of a Synthea EOB are `contained`,
//! `diagnosis`, `careTeam`…).

use fhir_ndjson::json::{JsonError, Parser, Peek};

/// A node's index in its [`Doc`].
pub type NodeId = u32;

/// A part of the line: (start, end) byte offsets.
type Span = (u32, u32);

#[derive(Debug, Clone, Copy)]
pub enum Node {
    Null,
    Bool(bool),
    /// As written (the JSON grammar checked).
    Number(Span),
    /// Raw contents: escapes still as written (checked), see [`Doc::text`]; whether it has any, as the parser
    /// saw (so a string without one is not scanned again for every use).
    Str(Span, bool),
    /// `len` children from `start` in the doc's child list.
    Array {
        start: u32,
        len: u32,
    },
    /// `len` members from `start` (keys and values side by side).
    Object {
        start: u32,
        len: u32,
    },
    /// A value under a key no expression of the view names: checked, not built. Only its JSON is ever asked
    /// for (a whole object as text, an object compared), and that reads the raw text.
    Raw(Span),
}

/// The vectors a tree is built in, reused for every line a thread reads.
#[derive(Default)]
pub struct DocBuffers {
    nodes: Vec<Node>,
    children: Vec<NodeId>,
    /// Parallel to `children`: a member's key, empty for array items.
    keys: Vec<Span>,
    scratch: Vec<(Span, NodeId)>,
}

/// Which members to build, at any level; others are only checked. Every name a view uses anywhere is kept
/// (and whatever starts with one, for choice elements: `value` keeps `valueQuantity`).
#[derive(Debug, Clone)]
pub struct Keep {
    /// The names, by their first byte (keys are checked at every level: this is on the hot path).
    by_first: Vec<Vec<Box<[u8]>>>,
}

impl Keep {
    pub fn new(mut names: Vec<String>) -> Keep {
        names.extend(["resourceType".to_string(), "id".to_string()]);
        names.sort();
        names.dedup();
        let mut by_first: Vec<Vec<Box<[u8]>>> = vec![Vec::new(); 256];
        for n in names.iter().filter(|n| !n.is_empty()) {
            by_first[n.as_bytes()[0] as usize].push(n.as_bytes().into());
        }
        Keep { by_first }
    }

    #[inline]
    pub(crate) fn keeps(&self, key: &[u8]) -> bool {
        let Some(&first) = key.first() else { return false };
        self.by_first[first as usize].iter().any(|n| n.len() <= key.len() && n.iter().zip(key).all(|(a, b)| a == b))
    }
}

pub struct Doc<'a> {
    line: &'a [u8],
    nodes: &'a [Node],
    children: &'a [NodeId],
    keys: &'a [Span],
    root: NodeId,
}

struct Build<'b, 'l> {
    line: &'l [u8],
    buf: &'b mut DocBuffers,
}

fn span(line: &[u8], part: &[u8]) -> Span {
    let start = part.as_ptr() as usize - line.as_ptr() as usize;
    (start as u32, (start + part.len()) as u32)
}

impl Build<'_, '_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.buf.nodes.push(node);
        (self.buf.nodes.len() - 1) as NodeId
    }

    fn value(&mut self, parser: &mut Parser<'_>, peek: Peek, keep: Option<&Keep>) -> Result<NodeId, JsonError> {
        Ok(match peek {
            Peek::Null => {
                parser.known_null()?;
                self.push(Node::Null)
            }
            Peek::True | Peek::False => {
                let b = parser.known_bool(peek)?;
                self.push(Node::Bool(b))
            }
            Peek::Number => {
                let n = parser.known_number_bytes()?;
                let s = span(self.line, n);
                self.push(Node::Number(s))
            }
            Peek::String => {
                let s = parser.known_bytes()?;
                let s = span(self.line, s);
                self.push(Node::Str(s, parser.last_escaped()))
            }
            Peek::Array => {
                // Children are collected above the caller's part of the scratch, then moved in one piece so
                // that every array's and object's children sit side by side.
                let base = self.buf.scratch.len();
                let mut next = parser.array_first()?;
                while let Some(p) = next {
                    let id = self.value(parser, p, keep)?;
                    self.buf.scratch.push(((0, 0), id));
                    next = parser.array_next()?;
                }
                self.seal(base, true)
            }
            Peek::Object => {
                let base = self.buf.scratch.len();
                let mut key = parser.object_first()?;
                while let Some(k) = key {
                    let p = parser.peek()?;
                    let id = if keep.is_some_and(|keep| !keep.keeps(k)) {
                        let start = parser.index();
                        parser.known_skip(p)?;
                        self.push(Node::Raw((start as u32, parser.index() as u32)))
                    } else {
                        self.value(parser, p, keep)?
                    };
                    let k = span(self.line, k);
                    self.buf.scratch.push((k, id));
                    key = parser.object_next()?;
                }
                self.seal(base, false)
            }
        })
    }

    fn seal(&mut self, base: usize, array: bool) -> NodeId {
        let start = self.buf.children.len() as u32;
        let len = (self.buf.scratch.len() - base) as u32;
        for i in base..self.buf.scratch.len() {
            let (k, id) = self.buf.scratch[i];
            self.buf.keys.push(k);
            self.buf.children.push(id);
        }
        self.buf.scratch.truncate(base);
        self.push(if array { Node::Array { start, len } } else { Node::Object { start, len } })
    }
}

impl<'a> Doc<'a> {
    /// Reads one JSON value (a whole line); only whitespace may follow it. The line is text (`str`): the
    /// tree hands out its strings without checking them again.
    pub fn parse(line: &'a str, buf: &'a mut DocBuffers, keep: Option<&Keep>) -> Result<Doc<'a>, JsonError> {
        let line = line.as_bytes();
        buf.nodes.clear();
        buf.children.clear();
        buf.keys.clear();
        buf.scratch.clear();
        let mut parser = Parser::new(line);
        let peek = parser.peek()?;
        let root = Build { line, buf: &mut *buf }.value(&mut parser, peek, keep)?;
        parser.finish()?;
        Ok(Doc { line, nodes: &buf.nodes, children: &buf.children, keys: &buf.keys, root })
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> Node {
        self.nodes[id as usize]
    }

    fn bytes(&self, (start, end): Span) -> &'a [u8] {
        &self.line[start as usize..end as usize]
    }

    /// A number node's text.
    pub fn number(&self, s: Span) -> &'a str {
        // SAFETY: numbers are ASCII, checked by the parser's number grammar.
        unsafe { std::str::from_utf8_unchecked(self.bytes(s)) }
    }

    /// An object's members (raw key, value); nothing for other nodes.
    pub fn members(&self, id: NodeId) -> impl Iterator<Item = (&'a [u8], NodeId)> + '_ {
        let (start, len) = match self.node(id) {
            Node::Object { start, len } => (start as usize, len as usize),
            _ => (0, 0),
        };
        self.keys[start..start + len]
            .iter()
            .map(|&k| self.bytes(k))
            .zip(self.children[start..start + len].iter().copied())
    }

    /// An array's items; nothing for other nodes.
    pub fn items(&self, id: NodeId) -> &'a [NodeId] {
        match self.node(id) {
            Node::Array { start, len } => &self.children[start as usize..(start + len) as usize],
            _ => &[],
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        let Node::Object { start, len } = self.node(id) else { return None };
        let (start, key) = (start as usize, key.as_bytes());
        // Lengths first, from the spans alone: most members differ there, and the line is not touched.
        let at = self.keys[start..start + len as usize]
            .iter()
            .position(|&(a, b)| (b - a) as usize == key.len() && same_key(self.bytes((a, b)), key))?;
        Some(self.children[start + at])
    }

    /// A string's text from its span.
    pub fn str_text(&self, s: Span, escaped: bool) -> std::borrow::Cow<'a, str> {
        if escaped {
            text_of(self.bytes(s))
        } else {
            // SAFETY: see `text_of`.
            std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(self.bytes(s)) })
        }
    }

    /// A string node's text (escapes resolved).
    pub fn text(&self, id: NodeId) -> Option<std::borrow::Cow<'a, str>> {
        match self.node(id) {
            Node::Str(s, escaped) => Some(self.str_text(s, escaped)),
            _ => None,
        }
    }

    /// The node as JSON (for values that are objects or arrays in a text column).
    pub fn to_json(&self, id: NodeId) -> serde_json::Value {
        use serde_json::Value;
        match self.node(id) {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number(n) => serde_json::from_str(self.number(n)).unwrap_or(Value::Null),
            Node::Raw(r) => serde_json::from_slice(self.bytes(r)).unwrap_or(Value::Null),
            Node::Str(s, escaped) => Value::String(self.str_text(s, escaped).into_owned()),
            Node::Array { .. } => Value::Array(self.items(id).iter().map(|&c| self.to_json(c)).collect()),
            Node::Object { .. } => {
                Value::Object(self.members(id).map(|(k, v)| (text_of(k).into_owned(), self.to_json(v))).collect())
            }
        }
    }
}

/// Keys are short: compared in place rather than by a call to memcmp (5 % of a view's time when it was).
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A raw JSON string's text (escapes resolved). Only for parts of a [`Doc`]'s line, which is a `str`: a
/// string's contents start and end at quotes (ASCII), so they are UTF-8 too; unescaping keeps that.
fn text_of(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match fhir_ndjson::unescaped(raw) {
        // SAFETY: see above: a checked line's string contents are UTF-8.
        std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(b) }),
        std::borrow::Cow::Owned(v) => std::borrow::Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
    }
}
