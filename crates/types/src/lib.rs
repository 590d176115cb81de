//! Domain types shared by every hegui crate.
//!
//! This crate knows nothing about HTTP, SQL or how reviews are computed: it only
//! defines the vocabulary (actions, decisions, label fields, records) and the one
//! canonical, versioned encoding of an interaction record.

mod decision;
mod journal;
mod label;
mod record;

pub use decision::{Action, Decision, MatchInfo, Severity, Stage};
pub use journal::{kinds, JournalEntry, JOURNAL_ENCODING_VERSION};
pub use label::{AigcLabel, LabelValueError};
pub use record::{InteractionRecord, Outcome, RECORD_ENCODING_VERSION};
