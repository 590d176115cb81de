//! Unified social credit codes (统一社会信用代码, GB 32100-2015).
//!
//! Layout: registration-authority code (1), organisation-type code (1), area code of the
//! registering authority (6 digits), subject identifier (9), check character (1), all from
//! the 31-character alphabet [`ALPHABET`].

use std::fmt;

use thiserror::Error;

use crate::chars::{compact, is_mainland_province, is_special_region};

/// The code alphabet: digits and upper-case letters without I, O, Z, S and V.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights for positions 1–17: 3^(i−1) mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a string is not a unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsccError {
    /// Not 18 characters.
    #[error("a unified social credit code has 18 characters, this has {found}: check for missing or extra characters")]
    WrongLength {
        /// Characters found.
        found: usize,
    },
    /// A character outside the code alphabet.
    #[error("character {found:?} at position {position} is not used in credit codes (digits and capital letters except I, O, S, V, Z): I and O are probably 1 and 0")]
    InvalidCharacter {
        /// 1-based position in the input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The check character does not match.
    #[error("check character is {found:?} but the first 17 characters give {expected:?}: a character was probably mistyped, re-enter the code from the licence")]
    CheckCharMismatch {
        /// Check character computed from the first 17 characters.
        expected: char,
        /// Check character in the input.
        found: char,
    },
    /// The first character is not a registration-authority code.
    #[error("first character {found:?} is not a registration-authority code (1–9, A, N or Y): re-check the first character")]
    UnknownAuthority {
        /// The first character.
        found: char,
    },
    /// The second character is not an organisation type defined for that authority.
    #[error("second character {found:?} is not an organisation type of authority {authority:?}: re-check the first two characters")]
    UnknownOrgType {
        /// The first character.
        authority: char,
        /// The second character.
        found: char,
    },
    /// Characters 3–8 are not a plausible administrative area code.
    #[error("characters 3 to 8 must be the 6-digit area code of the registering authority (e.g. 350100), found {found}")]
    InvalidAreaCode {
        /// Characters 3–8 (a public area code, not identifying).
        found: String,
    },
}

/// A validated unified social credit code, upper-case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uscc {
    code: String,
}

impl Uscc {
    /// The 18-character code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Registration-authority code (position 1), e.g. `9` for market regulation.
    pub fn authority(&self) -> char {
        char::from(self.code.as_bytes()[0])
    }

    /// Organisation-type code (position 2), e.g. `1` (enterprise) under authority `9`.
    pub fn org_type(&self) -> char {
        char::from(self.code.as_bytes()[1])
    }

    /// Area code of the registering authority (positions 3–8).
    pub fn area_code(&self) -> &str {
        &self.code[2..8]
    }

    /// Subject identifier (positions 9–17; the old organisation code where one existed).
    pub fn subject_id(&self) -> &str {
        &self.code[8..17]
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Uscc")
            .field(&crate::mask::mask(crate::PiiKind::Uscc, &self.code))
            .finish()
    }
}

/// Validates a credit code (surrounding whitespace, separators, full-width forms and lower
/// case tolerated) and returns it upper-cased.
pub fn parse_uscc(input: &str) -> Result<Uscc, UsccError> {
    let c = compact(input).map_err(|b| UsccError::InvalidCharacter {
        position: b.position,
        found: b.found,
    })?;
    check_ascii(&c.bytes).map_err(|e| match e {
        UsccError::InvalidCharacter { position, found } => UsccError::InvalidCharacter {
            position: c.position(position.saturating_sub(1)),
            found,
        },
        other => other,
    })?;
    Ok(Uscc {
        code: String::from_utf8_lossy(&c.bytes).into_owned(),
    })
}

/// The check character for the first 17 characters, or `None` if `first17` is not 17
/// characters of [`ALPHABET`].
pub fn check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut values = [0u8; 17];
    for (v, &x) in values.iter_mut().zip(b) {
        *v = value(x)?;
    }
    Some(char::from(check_byte(&values)))
}

/// Validates an upper-case ASCII candidate.
pub(crate) fn check_ascii(b: &[u8]) -> Result<(), UsccError> {
    if b.len() != 18 {
        return Err(UsccError::WrongLength { found: b.len() });
    }
    let mut values = [0u8; 18];
    for (i, (&x, v)) in b.iter().zip(values.iter_mut()).enumerate() {
        *v = value(x).ok_or(UsccError::InvalidCharacter {
            position: i + 1,
            found: char::from(x),
        })?;
    }
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(&values[..17]);
    let expected = check_byte(&first17);
    if expected != b[17] {
        return Err(UsccError::CheckCharMismatch {
            expected: char::from(expected),
            found: char::from(b[17]),
        });
    }
    let types = org_types(b[0]).ok_or(UsccError::UnknownAuthority {
        found: char::from(b[0]),
    })?;
    if !types.contains(&b[1]) {
        return Err(UsccError::UnknownOrgType {
            authority: char::from(b[0]),
            found: char::from(b[1]),
        });
    }
    check_area(&b[2..8])
}

fn value(x: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == x).map(|p| p as u8)
}

fn check_byte(values: &[u8; 17]) -> u8 {
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS)
        .map(|(&v, w)| u32::from(v) * w)
        .sum();
    ALPHABET[((31 - sum % 31) % 31) as usize]
}

/// Organisation types per registration authority. GB 32100-2015 defines 1–9 and Y; the
/// code administrators later added A (military units) and N (rural collective economic
/// organisations), which appear on real codes, so they are accepted too.
fn org_types(authority: u8) -> Option<&'static [u8]> {
    Some(match authority {
        b'1' | b'5' => b"1239",
        b'2' | b'4' | b'8' | b'A' => b"19",
        b'3' => b"123459",
        b'6' | b'7' => b"129",
        b'9' => b"123",
        b'N' => b"1239",
        b'Y' => b"1",
        _ => return None,
    })
}

/// Six digits whose first two are a province-level code, or 10 for central-level
/// registrations (area code 100000).
fn check_area(area: &[u8]) -> Result<(), UsccError> {
    let bad = || UsccError::InvalidAreaCode {
        found: String::from_utf8_lossy(area).into_owned(),
    };
    if !area.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let province = (area[0] - b'0') * 10 + (area[1] - b'0');
    if province == 10 || is_mainland_province(province) || is_special_region(province) {
        Ok(())
    } else {
        Err(bad())
    }
}
