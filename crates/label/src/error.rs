//! The one error type of this crate: every message names the format and the defect.

use std::path::PathBuf;

use hegui_types::LabelValueError;

/// What went wrong reading, labeling or verifying a file.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The file ends inside a structure.
    #[error("{format}: file is truncated: {what} at offset {offset} needs {need} bytes but only {available} remain")]
    Truncated {
        /// Format name (`PNG`, `MP4`, …).
        format: &'static str,
        /// The structure being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        need: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A structure declares a size larger than what is left of the input.
    #[error("{format}: {what} declares {declared} bytes but file has {available} left at offset {offset}")]
    Overrun {
        /// Format name.
        format: &'static str,
        /// The structure (e.g. `box 'moov'`).
        what: String,
        /// Declared size.
        declared: u64,
        /// Bytes left in the input.
        available: u64,
        /// Where the structure starts.
        offset: u64,
    },
    /// A checksum does not match its data.
    #[error("{format}: {what} has CRC 0x{stored:08x} but data gives 0x{computed:08x}")]
    BadCrc {
        /// Format name.
        format: &'static str,
        /// The checksummed structure.
        what: String,
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC of the data.
        computed: u32,
    },
    /// Structures nest deeper than this crate follows.
    #[error("{format}: structures nested deeper than {limit} levels at offset {offset}")]
    TooDeep {
        /// Format name.
        format: &'static str,
        /// The depth limit.
        limit: usize,
        /// Where the limit was hit.
        offset: u64,
    },
    /// Any other structural defect.
    #[error("{format}: {defect}")]
    Malformed {
        /// Format name.
        format: &'static str,
        /// What is wrong, with its place.
        defect: String,
    },
    /// A valid file using a feature this crate does not handle.
    #[error("{format}: {what} is not supported")]
    Unsupported {
        /// Format name.
        format: &'static str,
        /// The feature.
        what: String,
    },
    /// A carrier holds something that is not a GB 45438 label.
    #[error("{format}: the label in {carrier} is unreadable: {reason}")]
    BadLabel {
        /// Format name.
        format: &'static str,
        /// The carrier (e.g. `png:tEXt:AIGC`).
        carrier: String,
        /// Why it could not be read.
        reason: String,
    },
    /// No handler recognises the file.
    #[error("unknown file format ({hint}): expected one of PNG, JPEG, WebP, GIF, TIFF, MP4/MOV, MP3, WAV, FLAC, Ogg, PDF, DOCX/PPTX/XLSX, Markdown, text, HTML")]
    UnknownFormat {
        /// The file name or first bytes.
        hint: String,
    },
    /// A label value outside the GB 45438 character set.
    #[error(transparent)]
    InvalidValue(#[from] LabelValueError),
    /// The operation needs a label and the file has none.
    #[error("the file carries no GB 45438 label")]
    NoLabel,
    /// A key file or key string is unusable.
    #[error("key {source_name}: {reason}")]
    Key {
        /// The file or argument the key came from.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl LabelError {
    pub(crate) fn malformed(format: &'static str, defect: impl Into<String>) -> Self {
        LabelError::Malformed {
            format,
            defect: defect.into(),
        }
    }

    pub(crate) fn unsupported(format: &'static str, what: impl Into<String>) -> Self {
        LabelError::Unsupported {
            format,
            what: what.into(),
        }
    }

    pub(crate) fn overrun(
        format: &'static str,
        what: impl Into<String>,
        declared: u64,
        available: usize,
        offset: usize,
    ) -> Self {
        LabelError::Overrun {
            format,
            what: what.into(),
            declared,
            available: available as u64,
            offset: offset as u64,
        }
    }

    pub(crate) fn bad_label(
        format: &'static str,
        carrier: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        LabelError::BadLabel {
            format,
            carrier: carrier.into(),
            reason: reason.into(),
        }
    }
}
