//! The fhir-views crate's integration tests as one test binary, each file a module.
mod bad_input;
mod common;
mod conformance;
mod interop;
mod kept;
mod synthea;
