//! hegui-inspect: the regulator's inspection bundle, format `hegui-inspection/1`
//! (`INSPECTION_BUNDLE.md`), and its offline verifier.
//!
//! Articles 15 and 18 of the Interim Measures oblige the provider to cooperate with
//! supervision and inspection, with technical and data support. An inspection bundle is one
//! tar file holding every journal record of a period (content where it is still retained;
//! otherwise the leaf, its commitment and the erasure's reason), each with its inclusion proof
//! against one signed checkpoint, the period's checkpoints chained by consistency proofs, the
//! `purge` records behind every erasure, and CSV views for people. [`verify`] checks all of it
//! with nothing but the bundle and the log key the inspector trusts.
//!
//! Pure: no SQL, no HTTP, no clock. The store gathers the rows, [`BundleBuilder`] writes them.

mod build;
pub mod format;
mod verify;
mod views;

pub use build::{BuildError, BundleBuilder, Content, ExportCheckpoint, ExportLeaf, Header};
pub use format::{china_time, members, Manifest, Period, INSPECTION_FORMAT};
pub use verify::{verify, InspectError, Problem, Report};

#[cfg(test)]
mod tests;
