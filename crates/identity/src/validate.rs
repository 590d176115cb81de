//! Input rules for the verification flows. Each failure names the field and the rule it
//! broke (a stable code for clients) with a message that says what to do. Messages never
//! repeat the submitted value.
//!
//! The number rules themselves (GB 11643 ID numbers, mobile prefixes, GB 32100 credit codes)
//! live in `hegui-pii`, shared with the review engine's detectors.

use chrono::{Datelike, NaiveDate};
use hegui_pii::{IdCard, IdCardError, IdCardRules, PhoneError, UsccError};
use serde::Serialize;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message} (rule {rule})")]
pub struct FieldError {
    /// The request field, e.g. `id_number`.
    pub field: &'static str,
    /// The rule's code, e.g. `id_number.check_character`.
    pub rule: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: &'static str, rule: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            rule,
            message: message.into(),
        }
    }
}

/// A mainland mobile number in its normalised 11-digit form.
pub fn phone(input: &str) -> Result<String, FieldError> {
    hegui_pii::parse_phone(input).map_err(|e| {
        let rule = match e {
            PhoneError::Empty => "phone.required",
            PhoneError::InvalidCharacter { .. } => "phone.characters",
            PhoneError::ForeignCountryCode => "phone.country_code",
            PhoneError::WrongLength { .. } => "phone.length",
            PhoneError::NotMobile => "phone.mobile_prefix",
            _ => "phone.prefix_assigned",
        };
        FieldError::new("phone", rule, e.to_string())
    })
}

/// A resident ID number (18 characters; the old 15-digit form is upgraded), valid on `today`.
pub fn id_number(input: &str, today: NaiveDate) -> Result<IdCard, FieldError> {
    IdCardRules::new(today).parse(input).map_err(|e| {
        let rule = match e {
            IdCardError::WrongLength { .. } => "id_number.length",
            IdCardError::InvalidCharacter { .. } => "id_number.characters",
            IdCardError::CheckCharMismatch { .. } => "id_number.check_character",
            IdCardError::UnknownProvince { .. } | IdCardError::ImpossibleAreaCode { .. } => {
                "id_number.area_code"
            }
            IdCardError::InvalidBirthDate => "id_number.birth_date",
            IdCardError::BirthDateInFuture => "id_number.birth_date_future",
            IdCardError::BirthDateTooEarly { .. } => "id_number.birth_date_too_early",
        };
        FieldError::new("id_number", rule, e.to_string())
    })
}

/// A person's name as on the ID card: 1–64 characters, letters (any script), the middle dot
/// of transliterated names, spaces and hyphens; no digits or other symbols.
pub fn name(input: &str) -> Result<String, FieldError> {
    let n = input.trim();
    if n.is_empty() {
        return Err(FieldError::new(
            "name",
            "name.required",
            "the name is empty: enter the name exactly as on the ID card",
        ));
    }
    if n.chars().count() > 64 {
        return Err(FieldError::new(
            "name",
            "name.length",
            "the name is longer than 64 characters: enter the name as on the ID card",
        ));
    }
    if let Some((pos, c)) = n
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_alphabetic() || matches!(c, '·' | '•' | '.' | ' ' | '-')))
    {
        return Err(FieldError::new(
            "name",
            "name.characters",
            format!(
                "character {} at position {} cannot be part of a name: use the letters of the name as on the ID card",
                if c.is_ascii_digit() { "(a digit)".to_string() } else { format!("{c:?}") },
                pos + 1
            ),
        ));
    }
    Ok(n.to_string())
}

/// An organisation's unified social credit code (GB 32100).
pub fn org_code(input: &str) -> Result<String, FieldError> {
    hegui_pii::parse_uscc(input)
        .map(|u| u.code().to_string())
        .map_err(|e| {
            let rule = match e {
                UsccError::WrongLength { .. } => "org_code.length",
                UsccError::InvalidCharacter { .. } => "org_code.characters",
                UsccError::CheckCharMismatch { .. } => "org_code.check_character",
                #[allow(unreachable_patterns)]
                _ => "org_code.format",
            };
            FieldError::new("org_code", rule, e.to_string())
        })
}

/// A six-digit one-time code.
pub fn code(input: &str) -> Result<String, FieldError> {
    let c = input.trim();
    if c.len() != 6 || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            "code",
            "code.format",
            "the code is the 6 digits sent by SMS",
        ));
    }
    Ok(c.to_string())
}

/// The day someone born on `birth` turns 18 (29 February birthdays: 1 March in common years).
pub fn adult_on(birth: NaiveDate) -> NaiveDate {
    let year = birth.year() + 18;
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(birth)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    #[test]
    fn each_rule_is_named_without_echoing_the_value() {
        let with_check = |first17: &str| {
            format!(
                "{first17}{}",
                hegui_pii::id_card::check_char(first17).unwrap()
            )
        };
        let cases: Vec<(String, &str)> = vec![
            ("11010519491231002X".into(), ""),
            ("110105194912310021".into(), "id_number.check_character"),
            ("1101051949123100".into(), "id_number.length"),
            (with_check("11010519491331002"), "id_number.birth_date"),
            (with_check("99010519491231002"), "id_number.area_code"),
            (
                with_check("11010520991231002"),
                "id_number.birth_date_future",
            ),
        ];
        for (input, rule) in &cases {
            match id_number(input, today()) {
                Ok(_) => assert!(rule.is_empty(), "{input} should fail {rule}"),
                Err(e) => {
                    assert_eq!(e.rule, *rule, "{input}: {e}");
                    assert!(!e.to_string().contains(input.as_str()));
                }
            }
        }
        let old = id_number("110105491231002", today()).unwrap();
        assert!(old.was_upgraded());
        assert_eq!(&old.number()[..17], "11010519491231002");
        assert_eq!(phone("+86 138-1234-5678").unwrap(), "13812345678");
        assert_eq!(phone("1381234567").unwrap_err().rule, "phone.length");
        assert_eq!(
            phone("12812345678").unwrap_err().rule,
            "phone.mobile_prefix"
        );
        assert_eq!(phone("").unwrap_err().rule, "phone.required");
        assert_eq!(name("张三").unwrap(), "张三");
        assert_eq!(name("阿依古丽·买买提").unwrap(), "阿依古丽·买买提");
        assert_eq!(name("张3").unwrap_err().rule, "name.characters");
        assert!(!name("张3").unwrap_err().message.contains('3'));
        assert_eq!(name(" ").unwrap_err().rule, "name.required");
        assert_eq!(code("12345").unwrap_err().rule, "code.format");
        assert_eq!(code("012345").unwrap(), "012345");
        let first17 = "91350100M000100Y4";
        let check = hegui_pii::uscc::check_char(first17).unwrap();
        let good = format!("{first17}{check}");
        assert_eq!(org_code(&good).unwrap(), good);
        let wrong = if check == '0' { '1' } else { '0' };
        assert_eq!(
            org_code(&format!("{first17}{wrong}")).unwrap_err().rule,
            "org_code.check_character"
        );
    }

    #[test]
    fn adulthood() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(adult_on(d(2010, 5, 4)), d(2028, 5, 4));
        assert_eq!(adult_on(d(2008, 2, 29)), d(2026, 3, 1));
    }
}
