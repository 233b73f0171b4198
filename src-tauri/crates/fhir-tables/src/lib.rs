//! FHIR NDJSON → Parquet for analysts: one table per resource type, a schema exact over every
//! record and FHIR-aware, nested structures kept nested, nothing dropped (conflicting values are kept
//! as JSON text and named in the report), memory bounded whatever the input size.

pub mod columns;
pub mod convert;
pub mod error;
pub mod infer;
pub mod inputs;
mod pipeline;
pub mod rebuild;
pub mod report;
pub mod shape;
pub mod table_writer;

pub use convert::convert;
pub use error::ConvertError;
pub use fhir_ndjson::LineProblem;
pub use inputs::{InputFile, TypeInput, find_inputs};
pub use report::{
    BadLine, ConversionReport, ConvertOptions, ConvertPhase, ConvertProgress, Forgetful, JsonColumn, MemoryError,
    SchemaMemory, TypeReport,
};
pub use shape::Shape;
