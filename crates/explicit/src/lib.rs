//! Explicit (visible and audible) labels for AI-generated media, after GB 45438-2025.
//!
//! - Images: [`ImageLabeler`] draws the wording (default "AI生成") on a contrasting plate at a
//!   corner or edge, with text at least 5% of the shortest side.
//! - Audio: [`audio`] synthesises the "short long short short" cue (Morse "AI", `·− ··`) and adds
//!   it at the start and/or end of WAV files in-process, other formats through ffmpeg;
//!   [`audio::detect_cue`] finds it again.
//! - Video: [`video::VideoLabeler`] overlays the image label on the opening seconds through ffmpeg.
//!
//! Architecture invariants: the crate never writes a partial output file (tools write to a
//! temporary file in the destination's directory, renamed on success); it never renders glyphs
//! the font lacks (such wording is refused); it needs no external tool for images and WAV.

pub mod audio;
mod error;
mod image_label;
mod tools;
pub mod video;
mod wording;

pub use audio::{
    decode_wav, detect_cue, AudioFileLabeler, CueDetection, CuePlacement, CueSpec, FileJob,
    WavLabeler,
};
pub use error::{ExplicitError, Result};
pub use image_label::{
    contrast_ratio, relative_luminance, ImageLabelOptions, ImageLabeler, LabelLayout, Position,
    MIN_CONTRAST_RATIO, MIN_TEXT_HEIGHT_RATIO,
};
pub use tools::{find_in, find_on_path, Tools};
pub use video::{VideoLabelOptions, VideoLabelReport, VideoLabeler};
pub use wording::{missing_glyphs, Wording, DEFAULT_WORDING, DEFAULT_WORDINGS};

/// An explicit labeler for one kind of media: takes the media, returns it labelled.
pub trait ExplicitLabeler {
    /// What the labeler takes (a decoded image, WAV bytes, a file job).
    type Input;
    /// What it gives back.
    type Output;
    /// Applies the label.
    fn apply(&self, input: Self::Input) -> Result<Self::Output>;
}
