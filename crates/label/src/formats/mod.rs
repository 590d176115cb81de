//! One module per file format, each a [`crate::FormatHandler`].

pub(crate) mod flac;
pub(crate) mod gif;
pub(crate) mod html;
pub(crate) mod jpeg;
pub(crate) mod markdown;
pub(crate) mod mp3;
pub(crate) mod mp4;
pub(crate) mod ogg;
pub(crate) mod ooxml;
pub(crate) mod pdf;
pub(crate) mod png;
mod riff;
pub(crate) mod text;
pub(crate) mod tiff;
mod vorbis;
pub(crate) mod wav;
pub(crate) mod webp;

pub use flac::Flac;
pub use gif::Gif;
pub use html::Html;
pub use jpeg::Jpeg;
pub use markdown::Markdown;
pub use mp3::Mp3;
pub use mp4::Mp4;
pub use ogg::Ogg;
pub use ooxml::Ooxml;
pub use pdf::Pdf;
pub use png::Png;
pub use text::Text;
pub use tiff::Tiff;
pub use wav::Wav;
pub use webp::WebP;

use crate::FormatHandler;

/// Every built-in handler, in sniffing order (FLAC before MP3: a FLAC file may begin with an
/// ID3 tag; formats without magic bytes last).
pub(crate) fn all() -> Vec<Box<dyn FormatHandler>> {
    vec![
        Box::new(Png),
        Box::new(Jpeg),
        Box::new(WebP),
        Box::new(Gif),
        Box::new(Tiff),
        Box::new(Mp4),
        Box::new(Flac),
        Box::new(Mp3),
        Box::new(Wav),
        Box::new(Ogg),
        Box::new(Pdf),
        Box::new(Ooxml),
        Box::new(Html),
        Box::new(Markdown),
        Box::new(Text),
    ]
}
