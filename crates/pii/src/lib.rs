//! Personal-information (PII) validators, detector and masker for Chinese text.
//!
//! - Validators ([`parse_id_card`], [`parse_phone`], [`parse_bank_card`], [`parse_email`],
//!   [`parse_uscc`]) check one value a user typed and say which rule it breaks.
//! - [`detect()`] finds those values inside free text (prompts, model outputs) and reports byte
//!   spans of the original text; [`mask_all`] replaces them with display forms.
//!
//! Invariants:
//! - Every span [`detect()`] reports lies on `char` boundaries of the input and passes
//!   [`validate`] for its kind (with the same `today`).
//! - Detection is one forward scan for digits, which skips text without any in blocks of 16
//!   bytes (never decoding it) and, at each group of digits, reads the number and the run of
//!   letters and digits around it (a credit code); plus a bounded scan around each `@`. Each
//!   byte is visited a bounded number of times: time is linear in the input and extra memory
//!   is constant besides the list of matches.
//! - Nothing here panics on any `&str`; errors never contain a whole ID, phone or card number.

#![forbid(unsafe_code)]

mod chars;

pub mod bank_card;
pub mod detect;
pub mod email;
pub mod id_card;
pub mod mask;
pub mod phone;
pub mod uscc;

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

pub use bank_card::{parse_bank_card, BankCardError};
pub use detect::{detect, tail_boundary, today_in_china, Detector, PiiMatch};
pub use email::{parse_email, EmailError};
pub use id_card::{parse_id_card, IdCard, IdCardError, IdCardRules, Sex};
pub use mask::{mask, mask_all, mask_all_stars, MaskStyle};
pub use phone::{parse_phone, PhoneError};
pub use uscc::{parse_uscc, Uscc, UsccError};

/// The kinds of personal information this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// Resident identity card number.
    IdCard,
    /// Mainland mobile number.
    Phone,
    /// Payment card number.
    BankCard,
    /// E-mail address.
    Email,
    /// Unified social credit code.
    Uscc,
}

impl PiiKind {
    /// Every kind, in a fixed order.
    pub const ALL: [PiiKind; 5] = [
        PiiKind::IdCard,
        PiiKind::Phone,
        PiiKind::BankCard,
        PiiKind::Email,
        PiiKind::Uscc,
    ];

    /// Stable code used in review findings and logs, e.g. `PII-id_card`.
    pub const fn code(self) -> &'static str {
        match self {
            PiiKind::IdCard => "PII-id_card",
            PiiKind::Phone => "PII-phone",
            PiiKind::BankCard => "PII-bank_card",
            PiiKind::Email => "PII-email",
            PiiKind::Uscc => "PII-uscc",
        }
    }

    /// The kind for a stable code, the inverse of [`PiiKind::code`].
    pub fn from_code(code: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A validation failure of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PiiError {
    /// See [`IdCardError`].
    #[error(transparent)]
    IdCard(#[from] IdCardError),
    /// See [`PhoneError`].
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// See [`BankCardError`].
    #[error(transparent)]
    BankCard(#[from] BankCardError),
    /// See [`EmailError`].
    #[error(transparent)]
    Email(#[from] EmailError),
    /// See [`UsccError`].
    #[error(transparent)]
    Uscc(#[from] UsccError),
}

/// Validates `input` as `kind` and returns its normalised form (18-character ID number,
/// 11-digit phone, card digits, address with lower-case domain, upper-case credit code).
/// `today` bounds ID birth dates.
pub fn validate(kind: PiiKind, input: &str, today: NaiveDate) -> Result<String, PiiError> {
    Ok(match kind {
        PiiKind::IdCard => parse_id_card(input, today)?.number().to_owned(),
        PiiKind::Phone => parse_phone(input)?,
        PiiKind::BankCard => parse_bank_card(input)?,
        PiiKind::Email => parse_email(input)?,
        PiiKind::Uscc => parse_uscc(input)?.code().to_owned(),
    })
}
