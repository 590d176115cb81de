//! Label wording: the GB 45438 elements and the shipped font's coverage.

use ab_glyph::{Font, FontRef, GlyphId};

use crate::error::{ExplicitError, Result};

/// The shipped font: a subset of Noto Sans CJK SC Bold (SIL OFL 1.1), see `assets/README.md`.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../assets/NotoSansCJKsc-Bold-subset.otf");

/// The wordings the shipped font is guaranteed to cover.
pub const DEFAULT_WORDINGS: [&str; 4] =
    ["AI生成", "人工智能生成", "AI合成", "本内容由人工智能生成"];

/// The default wording of every label.
pub const DEFAULT_WORDING: &str = "AI生成";

/// Parses the embedded font. It is a build-time constant, so failure is a packaging bug.
pub(crate) fn font() -> Result<FontRef<'static>> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| ExplicitError::InvalidOption {
        option: "font",
        reason: format!("the embedded font failed to parse ({e}); the crate's assets are corrupt, rebuild from a clean checkout"),
    })
}

/// A label wording that passed every check: compliant, one line, and fully covered by the font.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording(String);

impl Wording {
    /// Checks `text` and keeps it.
    ///
    /// Refuses text without the AI element ("AI" or "人工智能") or the generation element
    /// ("生成" or "合成"), text that is not a single non-empty line, and text with characters
    /// the shipped font has no glyph for (naming them, rather than drawing boxes).
    pub fn new(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(ExplicitError::BadWording {
                wording: text.to_owned(),
                reason: "it is empty",
            });
        }
        if text.chars().any(char::is_control) {
            return Err(ExplicitError::BadWording {
                wording: text.to_owned(),
                reason: "it contains control characters (line breaks, tabs)",
            });
        }
        let has_ai = text.contains("AI") || text.contains("人工智能");
        let has_gen = text.contains("生成") || text.contains("合成");
        let missing = match (has_ai, has_gen) {
            (true, true) => None,
            (false, true) => Some("the AI element (\"AI\" or \"人工智能\")"),
            (true, false) => Some("the generation element (\"生成\" or \"合成\")"),
            (false, false) => Some("both the AI element and the generation element"),
        };
        if let Some(missing) = missing {
            return Err(ExplicitError::NonCompliantWording {
                wording: text.to_owned(),
                missing,
            });
        }
        let missing = missing_glyphs(text)?;
        if !missing.is_empty() {
            return Err(ExplicitError::MissingGlyphs {
                wording: text.to_owned(),
                missing,
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Wording {
    fn default() -> Self {
        Self(DEFAULT_WORDING.to_owned())
    }
}

impl std::fmt::Display for Wording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The characters of `text` the shipped font lacks, in order of first appearance, no repeats.
pub fn missing_glyphs(text: &str) -> Result<String> {
    let font = font()?;
    let mut missing = String::new();
    for c in text.chars() {
        if font.glyph_id(c) == GlyphId(0) && !missing.contains(c) {
            missing.push(c);
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn default_wordings_and_ascii_are_covered() {
        for w in DEFAULT_WORDINGS {
            assert_eq!(Wording::new(w).unwrap().as_str(), w);
        }
        let ascii: String = (0x20u8..0x7f).map(char::from).collect();
        assert_eq!(missing_glyphs(&ascii).unwrap(), "");
    }

    #[test]
    fn uncovered_characters_are_named() {
        match Wording::new("AI生成的图片图") {
            Err(ExplicitError::MissingGlyphs { missing, .. }) => assert_eq!(missing, "的图片"),
            other => panic!("expected MissingGlyphs, got {other:?}"),
        }
    }

    #[test]
    fn wording_without_the_elements_is_refused() {
        for (text, needle) in [
            ("生成", "AI element"),
            ("AI", "generation element"),
            ("Hello", "both"),
        ] {
            let err = Wording::new(text).unwrap_err();
            assert!(matches!(err, ExplicitError::NonCompliantWording { .. }));
            assert!(err.to_string().contains(needle), "{err}");
        }
        assert!(matches!(
            Wording::new("  "),
            Err(ExplicitError::BadWording { .. })
        ));
        assert!(matches!(
            Wording::new("AI\n生成"),
            Err(ExplicitError::BadWording { .. })
        ));
    }
}
