//! The public complaint channel (Articles 4 and 14 of the Interim Measures) and serious-incident
//! records.
//!
//! A complaint moves `received → in_review → resolved | rejected`. Resolving acts: the content
//! is withdrawn (delete, correct, restrict dissemination), the user behind it may be suspended,
//! a lexicon entry may be proposed. Every step is a row and a journal record in one
//! transaction, so the tamper-evident log shows who did what and when.
//!
//! Architecture invariant: no HTTP here and no SQL (storage is `hegui-store`).

mod complaint;
mod incident;

pub use complaint::{
    Action, CaseError, CaseService, Category, Deadlines, NewComplaint, PublicStatus, Resolution,
    State, TargetKind, MAX_DESCRIPTION_CHARS,
};
pub use incident::{china_time, IncidentInput, IncidentService, EVENT_KINDS};
