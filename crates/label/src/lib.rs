//! GB 45438-2025 labels for AI-generated content.
//!
//! - Text responses: the explicit label a person reads (wording and position configurable) and
//!   the implicit label fields machines read ([`TextLabeler`]).
//! - Files: implicit labels in file metadata, one [`FormatHandler`] per format (PNG, JPEG,
//!   WebP, GIF, TIFF, MP4/MOV, MP3, WAV, FLAC, Ogg, PDF, OOXML, Markdown, text, HTML) chosen by
//!   a [`Registry`]; Ed25519 integrity binding of producer and propagator fields ([`sign`],
//!   specified in `LABELS.md`); propagator mode; atomic file writes.
//!
//! Architecture invariants: this crate knows nothing about HTTP or storage; writing a label
//! never re-encodes media (pixels, samples and frames stay byte-identical); every parser of
//! file bytes returns an error naming the format and the defect, never panics, never allocates
//! from a declared size before checking it against the input, and never recurses without a
//! depth limit.

use hegui_types::AigcLabel;
use sha2::{Digest, Sha256};

mod bytes;
mod c2pa;
pub mod digest;
mod error;
mod exif;
pub mod formats;
mod handler;
mod ops;
mod out;
mod payload;
mod readbuf;
pub mod sign;
mod xml;
mod xmp;

#[cfg(test)]
mod conformance;

pub use c2pa::c2pa_carrier;
pub use digest::DigestAlg;
pub use error::LabelError;
pub use handler::{FormatHandler, FoundLabel, Prepared, Registry};
pub use ops::{
    label_bytes, label_bytes_from, label_file, label_file_to, primary, propagate, propagate_file,
    propagate_file_to, read_file, strip_file, verify, verify_all, write_atomic, Evidence,
    Verification,
};
pub use out::Output;
pub use readbuf::{read_all, FileBytes};
pub use sign::{LabelPublicKey, LabelSigningKey, Verdict};
/// XMP namespace of the TC260 AIGC property.
pub use xmp::NS as XMP_NAMESPACE;

/// Where an explicit text label goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Before the generated text.
    Start,
    /// After the generated text.
    End,
    /// Nowhere (the client interface shows it).
    None,
}

/// The labeling stage for generated text: one job, label what the model produced.
pub trait TextLabeler: Send + Sync + 'static {
    /// Fresh implicit-label fields for one response, with a unique `ProduceID`.
    fn new_label(&self) -> AigcLabel;
    /// Text to send before the generated text, if any.
    fn prefix(&self) -> Option<&str>;
    /// Text to send after the generated text, if any.
    fn suffix(&self) -> Option<&str>;
    /// Binds the label to the text as delivered (sets `ReservedCode1`).
    fn seal(&self, label: &mut AigcLabel, delivered: &str);
}

/// The GB 45438 text labeler.
#[derive(Debug, Clone)]
pub struct Gb45438TextLabeler {
    producer: String,
    prefix: Option<String>,
    suffix: Option<String>,
}

impl Gb45438TextLabeler {
    /// A labeler writing `producer` as `ContentProducer` and `wording` at `position`.
    pub fn new(producer: impl Into<String>, wording: &str, position: Position) -> Self {
        let (prefix, suffix) = match position {
            Position::Start => (Some(format!("【{wording}】\n\n")), None),
            Position::End => (None, Some(format!("\n\n【{wording}】"))),
            Position::None => (None, None),
        };
        Gb45438TextLabeler {
            producer: producer.into(),
            prefix,
            suffix,
        }
    }

    /// Applies the explicit label to a complete text.
    pub fn apply(&self, text: &str) -> String {
        format!(
            "{}{}{}",
            self.prefix.as_deref().unwrap_or(""),
            text,
            self.suffix.as_deref().unwrap_or("")
        )
    }
}

/// `ReservedCode1` for delivered text: `sha256:` + hex SHA-256 of the UTF-8 bytes, so anyone
/// holding the text can check it is what the provider delivered under this ProduceID.
pub fn text_integrity(delivered: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(delivered.as_bytes()))
    )
}

impl TextLabeler for Gb45438TextLabeler {
    fn new_label(&self) -> AigcLabel {
        AigcLabel {
            label: "1".into(),
            content_producer: self.producer.clone(),
            produce_id: uuid::Uuid::now_v7().to_string(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        }
    }

    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    fn suffix(&self) -> Option<&str> {
        self.suffix.as_deref()
    }

    fn seal(&self, label: &mut AigcLabel, delivered: &str) {
        label.reserved_code1 = Some(text_integrity(delivered));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_label_goes_where_configured() {
        let end = Gb45438TextLabeler::new("P1", "本内容由人工智能生成", Position::End);
        assert_eq!(end.apply("答"), "答\n\n【本内容由人工智能生成】");
        let start = Gb45438TextLabeler::new("P1", "AI生成", Position::Start);
        assert_eq!(start.apply("答"), "【AI生成】\n\n答");
        let none = Gb45438TextLabeler::new("P1", "AI生成", Position::None);
        assert_eq!(none.apply("答"), "答");
    }

    #[test]
    fn every_label_has_a_unique_valid_produce_id_and_binds_the_text() {
        let l = Gb45438TextLabeler::new("001191440300708461136T1XGW3", "AI生成", Position::End);
        let mut a = l.new_label();
        let b = l.new_label();
        assert_ne!(a.produce_id, b.produce_id);
        l.seal(&mut a, "你好");
        assert!(a.validate().is_ok(), "{a:?}");
        assert_eq!(
            a.reserved_code1.as_deref(),
            Some("sha256:670d9743542cae3ea7ebe36af56bd53648b0a1126162e78d81a32934a711302e")
        );
    }
}
