//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while applying an explicit label.
///
/// Every message says what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplicitError {
    /// The wording lacks the AI element or the generation element GB 45438 requires.
    #[error(
        "label wording {wording:?} is not a GB 45438 label: it lacks {missing}; use wording such \
         as \"AI生成\" or \"人工智能生成\" (an AI element \"AI\"/\"人工智能\" and a generation \
         element \"生成\"/\"合成\")"
    )]
    NonCompliantWording {
        /// The wording that was refused.
        wording: String,
        /// Which element is missing, in words.
        missing: &'static str,
    },

    /// The wording has characters the shipped font has no glyph for.
    #[error(
        "label wording {wording:?} uses characters the shipped font lacks: {missing:?}; use one \
         of the default wordings, or add the characters to crates/explicit/assets/subset.sh and \
         regenerate the font"
    )]
    MissingGlyphs {
        /// The wording that was refused.
        wording: String,
        /// The characters without a glyph, in order of first appearance, without repeats.
        missing: String,
    },

    /// The wording is empty or has characters that cannot be laid out on one line.
    #[error("label wording {wording:?} is unusable: {reason}; give one non-empty line of text")]
    BadWording {
        /// The wording that was refused.
        wording: String,
        /// Why it cannot be used.
        reason: &'static str,
    },

    /// An option is outside the range the standard or legibility allows.
    #[error("invalid label option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong and the allowed range.
        reason: String,
    },

    /// The image has no pixels.
    #[error(
        "the image is {width}x{height}: it has no pixels to label; pass a decoded, non-empty image"
    )]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },

    /// The label cannot fit inside the image at the height the standard requires.
    #[error(
        "the image is {width}x{height}: the label {wording:?} at the required text height of \
         {required_px} px ({ratio_percent}% of the shortest side) needs a {needed_w}x{needed_h} \
         rectangle and does not fit; use a shorter wording (e.g. \"AI生成\") or label a larger \
         rendition of the image"
    )]
    ImageTooSmall {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// The wording.
        wording: String,
        /// Required cap height in pixels.
        required_px: u32,
        /// The ratio as a percentage.
        ratio_percent: f32,
        /// Width the label plate needs.
        needed_w: u32,
        /// Height the label plate needs.
        needed_h: u32,
    },

    /// The bytes are not a WAV file this crate can read.
    #[error("not a usable WAV file: {reason}; pass a RIFF/WAVE file, or a path so other formats go through ffmpeg")]
    BadWav {
        /// What is wrong with it.
        reason: String,
    },

    /// The audio's sample format or parameters cannot carry the cue.
    #[error("unsupported audio: {reason}; convert it to PCM 8/16/24/32-bit integer or 32-bit float WAV (e.g. `ffmpeg -i in -c:a pcm_s16le out.wav`)")]
    UnsupportedAudio {
        /// What is unsupported.
        reason: String,
    },

    /// An external tool is not installed.
    #[error("`{tool}` was not found on PATH; it is needed to label {what}: install it (`apt-get install ffmpeg` provides ffmpeg and ffprobe){alternative}")]
    ToolMissing {
        /// The tool's name.
        tool: &'static str,
        /// What it was needed for.
        what: &'static str,
        /// Another way out, as a clause starting with ", or" (or empty).
        alternative: &'static str,
    },

    /// An external tool ran and failed.
    #[error("`{tool}` failed ({status}) on {path}: {stderr}; check that the file is a valid, complete media file")]
    ToolFailed {
        /// The tool's name.
        tool: &'static str,
        /// The file it was working on.
        path: PathBuf,
        /// Its exit status, in words.
        status: String,
        /// The tail of its standard error.
        stderr: String,
    },

    /// The media file does not have what labelling needs (e.g. no video stream).
    #[error("{path}: {reason}")]
    BadMedia {
        /// The file.
        path: PathBuf,
        /// What is missing, and what to do.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Encoding the label image failed (should not happen with valid dimensions).
    #[error("encoding the label image failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// This crate's result type.
pub type Result<T, E = ExplicitError> = std::result::Result<T, E>;

impl ExplicitError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
