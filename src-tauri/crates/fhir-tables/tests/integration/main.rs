//! The fhir-tables crate's integration tests as one test binary, each file a module: one link instead of one per file.
mod adversarial;
mod common;
mod interop;
mod lossless;
