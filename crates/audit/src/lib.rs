//! `hegui-audit`: the training-data audit required by Article 7 of the Interim Measures for
//! the Management of Generative AI Services, checked against the corpus thresholds of
//! TC260-003-2024 / GB/T 45654-2025:
//!
//! * reject a source whose content is more than 5% illegal or harmful;
//! * manual assessment of at least 4,000 sampled items must pass at least 96%;
//! * a technical (keyword / classifier) check of at least 10% of the corpus must pass at
//!   least 98%.
//!
//! The pieces, in the order an audit uses them:
//!
//! 1. [`manifest`]: the TOML manifest of sources and its legality checks
//!    ([`manifest::check_sources`]);
//! 2. [`read`]: streaming, constant-memory readers for JSONL, text, CSV/TSV and Parquet,
//!    plain or gzip/zstd-compressed, that turn every malformed line into a counted
//!    [`read::ReadError`] instead of crashing or dropping it;
//! 3. [`scan`]: the driver ([`scan::run_audit`]) that fans items out to a [`scan::Scanner`]
//!    on all cores, deterministically sharded across machines, producing a serialisable,
//!    exactly mergeable [`scan::AuditState`]; [`scan::finish`] turns it into a report;
//! 4. [`sample`]: seeded bottom-k stratified sampling for manual annotation, export and import;
//! 5. [`stats`] and [`dedup`]: mergeable length / script statistics, Wilson intervals and
//!    exact + SimHash near-duplicate rates;
//! 6. [`report`]: the JSON and self-contained HTML report.
//!
//! The file formats (manifest, report JSON, shard state) are described in `AUDIT_FORMAT.md`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod dedup;
mod keys;
pub mod manifest;
pub mod read;
pub mod report;
pub mod sample;
pub mod scan;
pub mod stats;

pub use manifest::{check_sources, Finding, Manifest, ManifestError, Severity};
pub use read::{Item, ReadError, ReadErrorKind, Record};
pub use report::{AuditReport, Verdict};
pub use scan::{
    finish, merge, run_audit, AuditError, AuditState, FinishOptions, PiiHit, Progress, RunOptions,
    ScanResult, Scanner,
};
