//! Resident identity card numbers (公民身份号码, GB 11643-1999).
//!
//! Layout of the 18-character form: 6-digit area code, 8-digit birth date `YYYYMMDD`,
//! 3-digit sequence (odd = male, even = female), 1 check character (ISO 7064 MOD 11-2).
//! The old 15-character form has a 6-digit birth date `YYMMDD` (all 19xx) and no check
//! character; [`IdCardRules::parse`] upgrades it to 18 characters.

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

use crate::chars::{compact, is_mainland_province, is_special_region};

/// Weights for positions 1–17: 2^(17−i) mod 11.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of (Σ digit × weight) mod 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Why a string is not a valid resident ID number.
///
/// Variants carry positions and single characters only, never the number or the birth
/// date, so an error can be logged without leaking the ID number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdCardError {
    /// Not 18 (or the old 15) characters after removing spaces and hyphens.
    #[error("an ID number has 18 characters (or 15 in the pre-1999 form), this has {found}: check for missing or extra digits")]
    WrongLength {
        /// Characters found.
        found: usize,
    },
    /// A character that cannot appear at this position.
    #[error("character {found:?} at position {position} is not allowed: an ID number is 17 digits followed by a digit or X (15 digits in the old form)")]
    InvalidCharacter {
        /// 1-based position in the input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The check character does not match the first 17 digits.
    #[error("check character is {found:?} but the first 17 digits give {expected:?}: one of the digits was probably mistyped, re-enter the number from the card")]
    CheckCharMismatch {
        /// Check character computed from the first 17 digits.
        expected: char,
        /// Check character in the input.
        found: char,
    },
    /// The first two digits are not a province-level code of GB/T 2260.
    #[error("area code starts with {code:02}, which is not a province-level region code: the first two digits should be e.g. 11 (Beijing) or 44 (Guangdong); re-check the first digits")]
    UnknownProvince {
        /// The first two digits.
        code: u8,
    },
    /// The province digits are known, but the 6-digit area code cannot exist.
    #[error("area code {province:02}{rest} cannot exist: {reason}; re-check digits 3 to 6")]
    ImpossibleAreaCode {
        /// The first two digits.
        province: u8,
        /// Digits 3–6 (city and county), which do not identify a person.
        rest: String,
        /// Which rule the code breaks.
        reason: &'static str,
    },
    /// Digits 7–14 (7–12 in the old form) are not a calendar date.
    #[error("the birth-date digits are not a real calendar date (month 01–12, day within the month, 29 Feb only in leap years): re-check digits 7 to 14")]
    InvalidBirthDate,
    /// The birth date lies after `today`.
    #[error("the birth date lies in the future: re-check digits 7 to 14")]
    BirthDateInFuture,
    /// The birth date lies before the earliest accepted date (1900-01-01 by default).
    #[error("the birth date is before {earliest}, which is not plausible for a living holder: re-check digits 7 to 10 (the year)")]
    BirthDateTooEarly {
        /// Earliest accepted birth date.
        earliest: NaiveDate,
    },
}

/// Sex encoded by the parity of the 17th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Odd 17th digit.
    Male,
    /// Even 17th digit.
    Female,
}

/// A validated resident ID number, always in the 18-character form.
///
/// `Debug` masks the number (it is sensitive personal information, PIPL Art. 28).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCard {
    number: String,
    birth_date: NaiveDate,
    upgraded: bool,
}

impl IdCard {
    /// The canonical 18-character number (digits and upper-case `X`).
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The 6-digit administrative area code of the place of first registration.
    pub fn area_code(&self) -> &str {
        &self.number[..6]
    }

    /// The birth date.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// Sex from the parity of the 17th digit.
    pub fn sex(&self) -> Sex {
        if self.number.as_bytes()[16] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Whether the input was the old 15-digit form.
    pub fn was_upgraded(&self) -> bool {
        self.upgraded
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdCard")
            .field(
                "number",
                &crate::mask::mask(crate::PiiKind::IdCard, &self.number),
            )
            .field("upgraded", &self.upgraded)
            .finish_non_exhaustive()
    }
}

/// The date-dependent rules for ID numbers; `today` is explicit so results are reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCardRules {
    today: NaiveDate,
    earliest_birth: NaiveDate,
}

impl IdCardRules {
    /// Rules with birth dates accepted from 1900-01-01 up to and including `today`.
    pub fn new(today: NaiveDate) -> Self {
        Self {
            today,
            earliest_birth: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN),
        }
    }

    /// Changes the earliest accepted birth date (e.g. to accept the standard's own 1880 example).
    #[must_use]
    pub fn with_earliest_birth(mut self, earliest: NaiveDate) -> Self {
        self.earliest_birth = earliest;
        self
    }

    /// The date treated as today.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// Validates an 18- or 15-character ID number, ignoring surrounding whitespace, spaces and
    /// hyphens inside, and accepting full-width digits and a lower-case `x`.
    pub fn parse(&self, input: &str) -> Result<IdCard, IdCardError> {
        let c = compact(input).map_err(|b| IdCardError::InvalidCharacter {
            position: b.position,
            found: b.found,
        })?;
        self.parse_ascii(&c.bytes).map_err(|e| match e {
            IdCardError::InvalidCharacter { position, found } => IdCardError::InvalidCharacter {
                position: c.position(position.saturating_sub(1)),
                found,
            },
            other => other,
        })
    }

    /// Validates a compacted, upper-cased ASCII candidate.
    pub(crate) fn parse_ascii(&self, bytes: &[u8]) -> Result<IdCard, IdCardError> {
        match bytes.len() {
            18 => self.parse18(bytes),
            15 => self.parse15(bytes),
            n => Err(IdCardError::WrongLength { found: n }),
        }
    }

    fn parse18(&self, bytes: &[u8]) -> Result<IdCard, IdCardError> {
        let mut first17 = [0u8; 17];
        for (i, &b) in bytes[..17].iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err(invalid_at(bytes, i));
            }
            first17[i] = b - b'0';
        }
        let found = bytes[17];
        if !(found.is_ascii_digit() || found == b'X') {
            return Err(invalid_at(bytes, 17));
        }
        let expected = check_byte(&first17);
        if found != expected {
            return Err(IdCardError::CheckCharMismatch {
                expected: char::from(expected),
                found: char::from(found),
            });
        }
        check_area(&first17[..6])?;
        let birth = self.check_birth(&first17[6..14])?;
        Ok(IdCard {
            number: String::from_utf8_lossy(bytes).into_owned(),
            birth_date: birth,
            upgraded: false,
        })
    }

    fn parse15(&self, bytes: &[u8]) -> Result<IdCard, IdCardError> {
        let mut first17 = [0u8; 17];
        for (i, &b) in bytes.iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err(invalid_at(bytes, i));
            }
            // Insert the century "19" between the area code and YYMMDD.
            let slot = if i < 6 { i } else { i + 2 };
            first17[slot] = b - b'0';
        }
        first17[6] = 1;
        first17[7] = 9;
        check_area(&first17[..6])?;
        let birth = self.check_birth(&first17[6..14])?;
        let mut number: String = first17.iter().map(|d| char::from(b'0' + d)).collect();
        number.push(char::from(check_byte(&first17)));
        Ok(IdCard {
            number,
            birth_date: birth,
            upgraded: true,
        })
    }

    fn check_birth(&self, d: &[u8]) -> Result<NaiveDate, IdCardError> {
        let num = |s: &[u8]| s.iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
        let year = num(&d[..4]) as i32;
        let date = NaiveDate::from_ymd_opt(year, num(&d[4..6]), num(&d[6..8]))
            .ok_or(IdCardError::InvalidBirthDate)?;
        if date > self.today {
            return Err(IdCardError::BirthDateInFuture);
        }
        if date < self.earliest_birth {
            return Err(IdCardError::BirthDateTooEarly {
                earliest: self.earliest_birth,
            });
        }
        Ok(date)
    }
}

/// Validates an ID number against `today` with the default rules (births from 1900-01-01).
pub fn parse_id_card(input: &str, today: NaiveDate) -> Result<IdCard, IdCardError> {
    IdCardRules::new(today).parse(input)
}

/// The check character for the first 17 digits of an ID number, or `None` if `first17` is
/// not exactly 17 ASCII digits.
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut digits = [0u8; 17];
    for (d, b) in digits.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    Some(char::from(check_byte(&digits)))
}

fn check_byte(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn invalid_at(bytes: &[u8], i: usize) -> IdCardError {
    IdCardError::InvalidCharacter {
        position: i + 1,
        found: char::from(bytes[i]),
    }
}

/// Plausibility of the area code, as far as GB/T 2260 justifies without the full code table
/// (which changes yearly and would reject numbers issued under since-abolished codes).
fn check_area(d: &[u8]) -> Result<(), IdCardError> {
    let province = d[0] * 10 + d[1];
    let city = d[2] * 10 + d[3];
    let county = d[4] * 10 + d[5];
    let rest = || d[2..6].iter().map(|x| char::from(b'0' + x)).collect();
    let impossible = |reason| IdCardError::ImpossibleAreaCode {
        province,
        rest: rest(),
        reason,
    };
    if is_mainland_province(province) {
        if city == 0 && county == 0 {
            return Err(impossible(
                "a province-level code (xx0000) is not issued on mainland ID cards",
            ));
        }
        if city == 0 {
            return Err(impossible(
                "city digits 00 denote the province itself, so the county digits must be 00 too",
            ));
        }
        Ok(())
    } else if is_special_region(province) {
        // 810000/820000/830000 are the codes on Hong Kong, Macao and Taiwan residents'
        // residence permits (港澳台居民居住证, 2018); GB/T 2260 has only 710000 for Taiwan.
        if city != 0 || county != 0 {
            return Err(impossible(
                "codes 71, 81, 82 and 83 are only used as the whole code xx0000",
            ));
        }
        Ok(())
    } else {
        Err(IdCardError::UnknownProvince { code: province })
    }
}
