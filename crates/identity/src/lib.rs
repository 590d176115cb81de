//! Real-name verification (Interim Measures for Generative AI Services, Art. 12) and the
//! protection of the personal information it needs (PIPL).
//!
//! - [`validate`]: the rules for ID numbers, mobile numbers, names and credit codes, each
//!   failure naming its field and rule.
//! - [`crypto`]: AES-256-GCM encryption of phone and ID numbers with rotating key ids, HMAC
//!   blind indexes, one-time-code hashes.
//! - [`providers`]: the SMS sender and identity authority behind traits (HTTP adapters, a
//!   development console sender), with loopback mocks behind the `mock` feature.
//! - [`service`]: the flows (register, phone code, ID check, operator verification, consent,
//!   export, deletion, key rotation), every attempt recorded as a pseudonymous
//!   `identity_check` record.
//!
//! No plaintext phone or ID number leaves this crate except to the provider that must see it
//! and, in an export, to the data subject.

#![forbid(unsafe_code)]

pub mod crypto;
pub mod providers;
pub mod service;
pub mod validate;

pub use crypto::{CryptoError, Field, PiKeys, PI_KEYS_ENV};
