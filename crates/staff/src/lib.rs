//! Compliance staff (Article 17): roles and the permission matrix, Argon2id passwords,
//! console sessions with CSRF tokens, login throttling. Every change to an account is a
//! `staff_action` record in the tamper-evident log.
//!
//! Architecture invariant: no HTTP (the console crate sets cookies) and no SQL.

mod roles;
mod service;

pub use roles::{Permission, Role, ROLES};
pub use service::{LoginError, Session, StaffError, StaffService, StaffSettings};
