//! Character classes shared by the validators, the detector and the masker.
//!
//! Chinese input methods produce full-width forms (`１３８`, `Ｘ`, `＋`) as readily as
//! ASCII ones, so every class here accepts both and maps them to ASCII.

/// Value of an ASCII or full-width decimal digit.
pub(crate) fn digit_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '\u{FF10}'..='\u{FF19}' => Some((u32::from(c) - 0xFF10) as u8),
        _ => None,
    }
}

/// The ASCII byte for a printable ASCII or full-width (U+FF01–U+FF5E) character.
pub(crate) fn to_ascii(c: char) -> Option<u8> {
    match c {
        '!'..='~' => Some(c as u8),
        '\u{FF01}'..='\u{FF5E}' => Some((u32::from(c) - 0xFF01 + 0x21) as u8),
        _ => None,
    }
}

/// ASCII or full-width letter or digit.
pub(crate) fn is_alnum(c: char) -> bool {
    to_ascii(c).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// ASCII or full-width letter.
pub(crate) fn is_letter(c: char) -> bool {
    to_ascii(c).is_some_and(|b| b.is_ascii_alphabetic())
}

/// `X` or `x` in either width: the ID-number check character 10.
pub(crate) fn is_x(c: char) -> bool {
    matches!(c, 'X' | 'x' | '\u{FF38}' | '\u{FF58}')
}

/// `.` in either width, as a decimal point.
pub(crate) fn is_decimal_point(c: char) -> bool {
    matches!(c, '.' | '\u{FF0E}')
}

/// `+` in either width.
pub(crate) fn is_plus(c: char) -> bool {
    matches!(c, '+' | '\u{FF0B}')
}

/// Characters people put between digit groups: space, no-break space, ideographic space,
/// and the hyphens (ASCII, full-width, Unicode hyphen and non-breaking hyphen).
pub(crate) fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '\u{00A0}' | '\u{3000}' | '\u{FF0D}' | '\u{2010}' | '\u{2011}'
    )
}

/// A character that [`compact`] could not map, with its 1-based position in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadChar {
    pub(crate) position: usize,
    pub(crate) found: char,
}

/// Input reduced to upper-case ASCII, remembering where each byte came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compact {
    pub(crate) bytes: Vec<u8>,
    /// 1-based character position in the original input of each byte of `bytes`.
    pub(crate) positions: Vec<usize>,
}

impl Compact {
    /// The 1-based input position of byte `i`, for error messages.
    pub(crate) fn position(&self, i: usize) -> usize {
        self.positions.get(i).copied().unwrap_or(0)
    }
}

/// Trims surrounding whitespace, drops separators and maps full-width forms to ASCII,
/// upper-casing letters. Fails on the first character that is none of these.
pub(crate) fn compact(input: &str) -> Result<Compact, BadChar> {
    let lead = input.len() - input.trim_start().len();
    let skipped = input[..lead].chars().count();
    let mut out = Compact {
        bytes: Vec::with_capacity(input.len().min(64)),
        positions: Vec::with_capacity(input.len().min(64)),
    };
    for (i, c) in input.trim().chars().enumerate() {
        if is_separator(c) {
            continue;
        }
        let position = skipped + i + 1;
        match to_ascii(c) {
            Some(b) => {
                out.bytes.push(b.to_ascii_uppercase());
                out.positions.push(position);
            }
            None => return Err(BadChar { position, found: c }),
        }
    }
    Ok(out)
}

/// Province-level codes of GB/T 2260 used on mainland resident ID cards.
pub(crate) fn is_mainland_province(code: u8) -> bool {
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65)
}

/// Taiwan (71), Hong Kong (81), Macao (82) and the Taiwan-resident code 83 used on
/// residence permits; each appears only as the whole code `xx0000`.
pub(crate) fn is_special_region(code: u8) -> bool {
    matches!(code, 71 | 81 | 82 | 83)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn full_width_forms_map_to_ascii() {
        assert_eq!(digit_value('７'), Some(7));
        assert_eq!(to_ascii('Ａ'), Some(b'A'));
        assert_eq!(to_ascii('～'), Some(b'~'));
        assert_eq!(to_ascii('中'), None);
    }

    #[test]
    fn compact_reports_position_of_bad_char_counting_trimmed_space() {
        let c = compact(" 1３8-x ").unwrap();
        assert_eq!(c.bytes, b"138X");
        assert_eq!(c.positions, [2, 3, 4, 6]);
        let err = compact("  12中").unwrap_err();
        assert_eq!(err.position, 5);
        assert_eq!(err.found, '中');
    }
}
