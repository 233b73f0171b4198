//! Browsing NDJSON exports without loading them. Each file gets a line-offset index on disk (built in the
//! background, readable as it builds), so any page of any file is two small reads; find, lookups by id and the
//! charts' counts stream through the files in bounded memory.

pub mod charts;
pub mod columns;
pub mod error;
pub mod folder;
pub mod index;
pub mod overview;

pub use charts::{ChartProgress, Charts};
pub use error::PreviewError;
pub use folder::{
    FIND_ROWS_KEPT, FindBatch, FindSummary, IndexProgress, Located, PreviewFolder, PreviewOptions, PreviewPage,
    PreviewRow, ResourceText,
};
pub use index::LineIndex;
pub use overview::FolderOverview;
