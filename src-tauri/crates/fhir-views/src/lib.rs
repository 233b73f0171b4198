//! SQL-on-FHIR v2 views over FHIR NDJSON: a ViewDefinition ([`View`]) turns each resource into flat rows,
//! written as Parquet, CSV or Excel. The FHIRPath engine is the crate's own, over the line reader all of
//! Haul shares; `src-tauri/DECISIONS-DATA.md` says why (measured against the existing Rust crates).

pub mod builtin;
pub mod decimal;
mod derive;
pub mod doc;
pub mod fhirpath;
pub use derive::{KEPT_ROWS_KEY, KeptRows};
pub mod kept;
mod make;
pub mod resource_types;
pub mod rows;
mod shared_paths;
mod source;
pub mod temporal;
pub mod view;

pub use rows::{Cell, Row, rows_as_json};
pub use view::{ColumnSpec, InvalidView, View};
pub mod output;
pub mod preview;
pub mod run;

pub use builtin::{BUILT_IN, ViewFileError, ViewInfo, built_in, check_names, read_view_file, read_view_files};
pub use kept::{KeptView, Reuse, definition_fingerprint};
pub use make::{keep_views_current, make_tables};
pub use output::{ColumnKind, OutValue};
pub use preview::{TablePreview, preview};
pub use run::{Format, TablesError, TablesOptions, TablesProgress, ViewFailure, ViewOutcome};
