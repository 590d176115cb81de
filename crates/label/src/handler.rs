//! The format-handler contract and the registry that picks a handler for a file.
//!
//! Contract every handler keeps (checked for each one by `tests/conformance.rs`):
//! - `read` returns every label carrier it finds, each named (`png:tEXt:AIGC`, `xmp`, …), and
//!   an error naming the format and the defect for malformed input; it never panics.
//! - `write` stores the label in the one canonical carrier and removes every other carrier, so
//!   the file keeps one copy; it never re-encodes media (pixels, samples, frames stay
//!   byte-identical).
//! - `remove` removes every carrier, leaving other metadata alone.
//! - `content_digest` hashes the media payload only: it is the same before and after `write`
//!   and `remove`, so a signature over it binds the label to the content.

use hegui_types::AigcLabel;

use crate::digest::DigestAlg;
use crate::formats;
use crate::out::Output;
use crate::LabelError;

/// One label found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLabel {
    /// Which carrier held it (e.g. `png:tEXt:AIGC`, `xmp`, `exif:UserComment`).
    pub carrier: String,
    /// The label.
    pub label: AigcLabel,
}

/// Reads and writes implicit labels in one file format. Stateless.
pub trait FormatHandler: Send + Sync {
    /// Short name (`png`, `mp4`, …).
    fn name(&self) -> &'static str;
    /// File name extensions, lower case, without the dot.
    fn extensions(&self) -> &'static [&'static str];
    /// True when the bytes start like this format (magic bytes); false for formats without any.
    fn sniff(&self, bytes: &[u8]) -> bool;
    /// The carrier `write` uses.
    fn canonical_carrier(&self) -> &'static str;
    /// Every label carrier in the file.
    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError>;
    /// The file with `label` in the canonical carrier and no other carrier, as new bytes and
    /// untouched ranges of `bytes` (the media), so callers copy those once.
    fn write_parts<'a>(&self, bytes: &'a [u8], label: &AigcLabel)
        -> Result<Output<'a>, LabelError>;
    /// True when [`FormatHandler::write_parts`] returns the media as kept input ranges rather
    /// than rebuilding the whole file as new bytes; the signed path then copies them while it
    /// computes the digest (`label_bytes`). The conformance harness checks the claim. PDF keeps
    /// the input of an incremental update without claiming it: overlapping would parse the
    /// file three times instead of once.
    fn keeps_media(&self) -> bool {
        false
    }
    /// [`FormatHandler::write_parts`] in one buffer.
    fn write(&self, bytes: &[u8], label: &AigcLabel) -> Result<Vec<u8>, LabelError> {
        self.write_parts(bytes, label).map(Output::into_vec)
    }
    /// [`FormatHandler::write_parts`] with a label that depends on the content: `label` is
    /// called once, with [`FormatHandler::content_digest`] of `bytes` (in
    /// [`DigestAlg::CURRENT`]), and its result written.
    /// Returns the output and the label written. The default computes the digest and then
    /// writes, on the prepared file when the handler prepares ([`FormatHandler::prepare`]); a
    /// handler whose digest and write both parse the whole file (PDF) parses once.
    fn write_with_digest<'a>(
        &self,
        bytes: &'a [u8],
        label: &mut dyn FnMut(&[u8; 32]) -> Result<AigcLabel, LabelError>,
    ) -> Result<(Output<'a>, AigcLabel), LabelError> {
        if let Some(file) = self.prepare(bytes)? {
            let l = label(&file.content_digest()?)?;
            return Ok((file.write_parts(&l)?, l));
        }
        let l = label(&self.content_digest(bytes)?)?;
        Ok((self.write_parts(bytes, &l)?, l))
    }
    /// `bytes` checked once for several writes and digests of the same file (the signed path
    /// writes twice and hashes once): [`Prepared`] gives what `write_parts` and
    /// `content_digest` give. `None` (the default): nothing to do ahead, call the handler; the
    /// text formats validate UTF-8 and find their label lines once.
    fn prepare<'a>(
        &self,
        _bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(None)
    }
    /// The file without any label carrier.
    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError>;
    /// The digest (in `alg`) of the media payload, excluding every metadata carrier.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError>;
    /// [`FormatHandler::content_digest_with`] in [`DigestAlg::CURRENT`], the algorithm new
    /// signatures use.
    fn content_digest(&self, bytes: &[u8]) -> Result<[u8; 32], LabelError> {
        self.content_digest_with(bytes, DigestAlg::CURRENT)
    }
}

/// A file prepared by [`FormatHandler::prepare`].
pub trait Prepared<'a> {
    /// [`FormatHandler::write_parts`] of the prepared file.
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError>;
    /// [`FormatHandler::content_digest_with`] of the prepared file.
    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError>;
    /// [`Prepared::content_digest_with`] in [`DigestAlg::CURRENT`].
    fn content_digest(&self) -> Result<[u8; 32], LabelError> {
        self.content_digest_with(DigestAlg::CURRENT)
    }
}

/// The handlers, chosen by magic bytes first, then by file name extension.
pub struct Registry {
    handlers: Vec<Box<dyn FormatHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.handlers.iter().map(|h| h.name()))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// Every built-in handler. Order matters for sniffing: more specific magic first (FLAC
    /// before MP3, because a FLAC file may start with an ID3 tag; OOXML is a ZIP).
    pub fn new() -> Self {
        Registry {
            handlers: formats::all(),
        }
    }

    /// The registered handlers.
    pub fn handlers(&self) -> impl Iterator<Item = &dyn FormatHandler> {
        self.handlers.iter().map(|h| h.as_ref())
    }

    /// The handler called `name`.
    pub fn by_name(&self, name: &str) -> Option<&dyn FormatHandler> {
        self.handlers()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }

    /// The handler for a file: magic bytes first, then the extension of `file_name`.
    pub fn detect(
        &self,
        bytes: &[u8],
        file_name: Option<&str>,
    ) -> Result<&dyn FormatHandler, LabelError> {
        if let Some(h) = self.handlers().find(|h| h.sniff(bytes)) {
            return Ok(h);
        }
        let ext = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase());
        if let Some(ext) = &ext {
            if let Some(h) = self
                .handlers()
                .find(|h| h.extensions().contains(&ext.as_str()))
            {
                return Ok(h);
            }
        }
        let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Err(LabelError::UnknownFormat {
            hint: match file_name {
                Some(n) => format!("{n}, first bytes {head}"),
                None => format!("first bytes {head}"),
            },
        })
    }
}
