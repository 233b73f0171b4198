//! Browsing NDJSON exports without loading them. Each file gets a line-offset index on disk (built in the
//! background, readable as it builds), so any page of any file is two small reads; find, lookups by id and the
//! charts' counts stream through the files in bounded memory. Which files hold which type, how a file is read
//! (gzip) and when a line is a resource are `fhir-ndjson`'s rules, shared with export verification and Convert.

pub mod charts;
pub mod columns;
pub mod error;
pub mod find;
pub mod folder;
pub mod index;
pub mod overview;
pub mod rows;
pub mod save;

pub use charts::{ChartProgress, Charts};
pub use error::PreviewError;
pub use fhir_ndjson::LineProblem;
pub use find::{FIND_ROWS_KEPT, FindBatch, FindSummary, Located, split_reference};
pub use folder::{IndexProgress, PreviewFolder, PreviewOptions};
pub use index::LineIndex;
pub use overview::FolderOverview;
pub use rows::{BadRow, PreviewPage, PreviewRow, ResourceText, TypeCheck};
