//! Mainland-China mobile numbers: 11 digits, `1` then `3`–`9`, with an optional `+86`,
//! `0086` or `86` country prefix.

use thiserror::Error;

use crate::chars::compact;

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// Nothing but whitespace and separators.
    #[error("the phone number is empty: enter the 11-digit mobile number")]
    Empty,
    /// A character other than a digit, separator or a leading `+`.
    #[error("character {found:?} at position {position} is not allowed: use digits, optionally with spaces or hyphens and a leading +86")]
    InvalidCharacter {
        /// 1-based position in the input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// An international prefix other than China's +86.
    #[error("the number has a country code other than +86: only mainland-China mobile numbers are accepted")]
    ForeignCountryCode,
    /// Not 11 digits once the country prefix is removed.
    #[error("a mainland mobile number has 11 digits, this has {found}: check for missing or extra digits")]
    WrongLength {
        /// Digits found (after removing any +86 / 0086 / 86 prefix).
        found: usize,
    },
    /// Does not start with `13`–`19`, so it is not a mobile number (a landline, perhaps).
    #[error("mainland mobile numbers start with 13 to 19: this looks like a landline or another kind of number")]
    NotMobile,
    /// Starts like a mobile number but the prefix is not assigned to mobile service.
    #[error("prefix {prefix} is not assigned to mainland mobile service (2020 list): re-check the first digits, or update the prefix table if this is a newly issued range")]
    UnassignedPrefix {
        /// The first 3 (or, for 174, 5) digits.
        prefix: String,
    },
}

/// Validates a mainland mobile number and returns its 11 digits.
///
/// Accepts surrounding whitespace, spaces and hyphens between digits, full-width digits,
/// and a `+86`, `0086` or `86` prefix (`"+86-138-1234-5678"`, `"138 1234 5678"`).
pub fn parse_phone(input: &str) -> Result<String, PhoneError> {
    let c = compact(input).map_err(|b| PhoneError::InvalidCharacter {
        position: b.position,
        found: b.found,
    })?;
    let digits = parse_ascii(&c.bytes).map_err(|e| match e {
        PhoneError::InvalidCharacter { position, found } => PhoneError::InvalidCharacter {
            position: c.position(position.saturating_sub(1)),
            found,
        },
        other => other,
    })?;
    Ok(String::from_utf8_lossy(&digits).into_owned())
}

/// Validates a compacted ASCII candidate; returns the national 11 digits.
pub(crate) fn parse_ascii(bytes: &[u8]) -> Result<[u8; 11], PhoneError> {
    if bytes.is_empty() {
        return Err(PhoneError::Empty);
    }
    let (plus, rest) = match bytes.split_first() {
        Some((b'+', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if let Some((i, &b)) = rest.iter().enumerate().find(|(_, b)| !b.is_ascii_digit()) {
        return Err(PhoneError::InvalidCharacter {
            position: i + 1 + usize::from(plus),
            found: char::from(b),
        });
    }
    let national = if plus {
        rest.strip_prefix(b"86")
            .ok_or(PhoneError::ForeignCountryCode)?
    } else if let Some(n) = rest.strip_prefix(b"0086") {
        n
    } else if rest.starts_with(b"00") {
        return Err(PhoneError::ForeignCountryCode);
    } else if rest.len() == 13 && rest.starts_with(b"86") {
        &rest[2..]
    } else {
        rest
    };
    let digits: [u8; 11] = national.try_into().map_err(|_| PhoneError::WrongLength {
        found: national.len(),
    })?;
    if digits[0] != b'1' || !(b'3'..=b'9').contains(&digits[1]) {
        return Err(PhoneError::NotMobile);
    }
    if !prefix_assigned(&digits) {
        let len = if &digits[..3] == b"174" { 5 } else { 3 };
        return Err(PhoneError::UnassignedPrefix {
            prefix: String::from_utf8_lossy(&digits[..len]).into_owned(),
        });
    }
    Ok(digits)
}

/// Prefixes assigned to mobile service (legal-facts.md, 2020 list, all carriers, MVNO and
/// data-only ranges). Number portability means a prefix no longer names the carrier, so only
/// assignment is checked. 141/144/146/148 are 13-digit IoT ranges and are not listed.
fn prefix_assigned(d: &[u8; 11]) -> bool {
    match (d[1], d[2]) {
        (b'3', _) | (b'8', _) => true,
        (b'4', b'5' | b'7' | b'9') => true,
        (b'5', b) => b != b'4',
        (b'6', b'2' | b'5' | b'6' | b'7') => true,
        // 174 is assigned only as 17400–17405 (satellite).
        (b'7', b'4') => d[3] == b'0' && d[4] <= b'5',
        (b'7', b) => b != b'9',
        (b'9', b) => b != b'4',
        _ => false,
    }
}
