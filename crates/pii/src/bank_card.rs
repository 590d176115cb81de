//! Payment card numbers (银行卡号): 16–19 digits with a Luhn check digit (ISO/IEC 7812).

use thiserror::Error;

use crate::chars::compact;

/// Shortest card number accepted.
pub const MIN_DIGITS: usize = 16;
/// Longest card number accepted.
pub const MAX_DIGITS: usize = 19;

/// Why a string is not a bank card number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BankCardError {
    /// A character other than a digit or a separator between digit groups.
    #[error("character {found:?} at position {position} is not allowed: a card number is digits, optionally grouped with spaces")]
    InvalidCharacter {
        /// 1-based position in the input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Fewer than 16 or more than 19 digits.
    #[error("a bank card number has 16 to 19 digits, this has {found}: check for missing or extra digits")]
    WrongLength {
        /// Digits found.
        found: usize,
    },
    /// Starts with 0, the ISO/IEC 7812 industry digit never issued to card issuers.
    #[error("a bank card number does not start with 0: re-check the first digit")]
    LeadingZero,
    /// The Luhn checksum fails.
    #[error("the Luhn check digit does not match: one of the digits was probably mistyped, re-enter the number from the card")]
    LuhnMismatch,
}

/// Validates a card number and returns its digits without separators.
pub fn parse_bank_card(input: &str) -> Result<String, BankCardError> {
    let c = compact(input).map_err(|b| BankCardError::InvalidCharacter {
        position: b.position,
        found: b.found,
    })?;
    if let Some(i) = c.bytes.iter().position(|b| !b.is_ascii_digit()) {
        return Err(BankCardError::InvalidCharacter {
            position: c.position(i),
            found: char::from(c.bytes[i]),
        });
    }
    check_digits(&c.bytes)?;
    Ok(String::from_utf8_lossy(&c.bytes).into_owned())
}

/// Checks length, first digit and Luhn on ASCII digits.
pub(crate) fn check_digits(digits: &[u8]) -> Result<(), BankCardError> {
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(BankCardError::WrongLength {
            found: digits.len(),
        });
    }
    if digits[0] == b'0' {
        return Err(BankCardError::LeadingZero);
    }
    if !luhn_ascii(digits) {
        return Err(BankCardError::LuhnMismatch);
    }
    Ok(())
}

/// Whether a string of ASCII digits passes the Luhn (mod 10) check; `false` for any
/// non-digit or an empty string.
pub fn luhn_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    !b.is_empty() && b.iter().all(u8::is_ascii_digit) && luhn_ascii(b)
}

fn luhn_ascii(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
