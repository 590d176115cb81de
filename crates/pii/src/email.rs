//! E-mail addresses: a practical check of `local@domain.tld` (RFC 5321 lengths,
//! RFC 5322 dot-atom local part, LDH domain labels). Quoted local parts, address
//! literals (`user@[192.0.2.1]`) and internationalised addresses (RFC 6531) are not
//! accepted: they are rare in practice and mostly used to smuggle odd input.

use thiserror::Error;

/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_LEN: usize = 64;
/// Longest address usable in a forward path (RFC 5321 §4.5.3.1.3, less the angle brackets).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Longest domain label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a string is not a usable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// No `@`, or more than one.
    #[error(
        "an e-mail address has exactly one @ between the name and the domain, this has {found}"
    )]
    AtSignCount {
        /// Number of `@` found.
        found: usize,
    },
    /// Longer than 254 characters.
    #[error("the address is {found} characters long, the limit is 254: check that only one address was entered")]
    TooLong {
        /// Length found.
        found: usize,
    },
    /// Nothing before the `@`.
    #[error("the part before @ is empty: enter the full address, e.g. name@example.com")]
    EmptyLocalPart,
    /// Local part longer than 64 characters.
    #[error("the part before @ is {found} characters long, the limit is 64")]
    LocalPartTooLong {
        /// Length found.
        found: usize,
    },
    /// A character not allowed in an unquoted local part.
    #[error("character {found:?} is not allowed before the @: use letters, digits and . _ + - and similar")]
    InvalidLocalChar {
        /// The offending character.
        found: char,
    },
    /// The local part starts or ends with a dot or has two dots in a row.
    #[error("the part before @ starts or ends with a dot or has two dots in a row: remove the extra dot")]
    LocalDotPlacement,
    /// Nothing after the `@`, or an empty label (`a@.com`, `a@b..com`).
    #[error("the domain after @ is empty or has an empty part between dots: check for a missing or extra dot")]
    EmptyDomainLabel,
    /// A character not allowed in a domain name.
    #[error(
        "character {found:?} is not allowed in the domain: use letters, digits, hyphens and dots"
    )]
    InvalidDomainChar {
        /// The offending character.
        found: char,
    },
    /// A domain label longer than 63 characters.
    #[error("a part of the domain is {found} characters long, the limit is 63")]
    DomainLabelTooLong {
        /// Length found.
        found: usize,
    },
    /// A domain label starts or ends with a hyphen.
    #[error("a part of the domain starts or ends with a hyphen, which domain names do not allow")]
    DomainLabelHyphen,
    /// The domain has no dot, so it has no top-level domain.
    #[error("the domain has no top-level part: add it, e.g. example.com rather than example")]
    MissingTld,
    /// The top-level domain is not letters (or an `xn--` IDN label) of at least two characters.
    #[error("the top-level domain must be at least two letters (e.g. .com, .cn): re-check the end of the address")]
    InvalidTld,
}

/// Validates an e-mail address (surrounding whitespace ignored) and returns it with the
/// domain lower-cased; the local part keeps its case, which RFC 5321 says is significant.
pub fn parse_email(input: &str) -> Result<String, EmailError> {
    let (local, domain) = check_email(input)?;
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// [`parse_email`] without building the normalised form: the local part and the domain.
pub(crate) fn check_email(input: &str) -> Result<(&str, &str), EmailError> {
    let s = input.trim();
    let ats = s.matches('@').count();
    if ats != 1 {
        return Err(EmailError::AtSignCount { found: ats });
    }
    let len = s.chars().count();
    if len > MAX_ADDRESS_LEN {
        return Err(EmailError::TooLong { found: len });
    }
    let (local, domain) = s
        .split_once('@')
        .ok_or(EmailError::AtSignCount { found: 0 })?;
    check_local(local)?;
    check_domain(domain)?;
    Ok((local, domain))
}

/// Characters of an RFC 5322 dot-atom besides letters, digits and the dot.
fn is_atext_symbol(c: char) -> bool {
    "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn check_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    let len = local.chars().count();
    if len > MAX_LOCAL_LEN {
        return Err(EmailError::LocalPartTooLong { found: len });
    }
    if let Some(c) = local
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '.' || is_atext_symbol(c)))
    {
        return Err(EmailError::InvalidLocalChar { found: c });
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::LocalDotPlacement);
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), EmailError> {
    if let Some(c) = domain
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(EmailError::InvalidDomainChar { found: c });
    }
    let mut labels = 0;
    for label in domain.split('.') {
        labels += 1;
        if label.is_empty() {
            return Err(EmailError::EmptyDomainLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(EmailError::DomainLabelTooLong { found: label.len() });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(EmailError::DomainLabelHyphen);
        }
    }
    if labels < 2 {
        return Err(EmailError::MissingTld);
    }
    let tld = domain.rsplit('.').next().unwrap_or("");
    let idn = tld.len() > 4 && tld[..4].eq_ignore_ascii_case("xn--");
    if tld.len() < 2 || !(idn || tld.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(EmailError::InvalidTld);
    }
    Ok(())
}
