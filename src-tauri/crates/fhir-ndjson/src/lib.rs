//! FHIR NDJSON input, shared by export verification (`export-jobs`), conversion (`fhir-tables`) and the Files
//! page (`ndjson-preview`), so the three agree:
//!
//! - which files hold which resource type ([`find_inputs`]),
//! - how a file is read: gzip told by its magic bytes, in one place ([`open`], [`is_gzip_magic`]),
//! - what a line is: split on `\n`, a CRLF's `\r` dropped, blank lines skipped ([`lines`], [`is_blank`]),
//! - when a line is a resource of its file's type, and if not, why ([`check_line`], [`LineProblem`]).
//!
//! The rule is one walker over the crate's own JSON reader ([`json`]); a caller that learns from the line
//! (the converter's schema) does it in the same pass through a [`Visit`]or.

pub mod deletions;
pub mod error;
pub mod inputs;
pub mod json;
pub mod lines;
pub mod open;
pub mod rule;

pub use deletions::{MAX_DELETION_LINE, deleted_resources, type_and_id};
pub use error::NdjsonError;
pub use inputs::{InputFile, TypeInput, find_inputs, looks_like_type, resource_type_of, type_of};
pub use lines::{HEAD_BYTES, Line, LineReader, is_blank, line_content, lines};
pub use open::{Decoded, GZIP_MAGIC, is_gzip_file, is_gzip_magic, open, open_counting, read_up_to};
pub use rule::{LineProblem, SeenKeys, Visit, VisitObject, check_line, check_utf8, has_escape, unescaped, walk_line};
