//! Encoding an image that `hegui label explicit` or `hegui label watermark` changed, in the
//! format it came in.

use std::io::Cursor;
use std::path::Path;

use anyhow::bail;

use image::{DynamicImage, ImageFormat};

/// JPEG quality of a re-encoded JPEG: high, so the re-encoding costs little of the picture
/// (the `image` crate's default is 75; the watermark survives quality 50 either way).
const JPEG_QUALITY: u8 = 95;

/// The image format a file's extension names (png, jpg/jpeg, webp; any case), if any.
pub fn format_of(path: &Path) -> Option<ImageFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some(ImageFormat::Png),
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// `img` encoded as `format`; JPEG, which has no alpha, gets the colour channels only.
pub fn encode(img: DynamicImage, format: ImageFormat) -> anyhow::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        DynamicImage::ImageRgb8(img.into_rgb8()).write_with_encoder(encoder)?;
    } else {
        img.write_to(&mut out, format)?;
    }
    Ok(out.into_inner())
}

/// Reads the image at `path` (of `format`) for a command that re-encodes it (`action`:
/// "watermark", "explicit label"), refusing what re-encoding would lose: an implicit label
/// (whose signature would no longer match the pixels anyway: the order is explicit,
/// watermark, `add`), animation and more than 8 bits per channel always, and the ICC
/// profile, EXIF or a C2PA manifest when writing over the file (`to_copy` false). Returns the
/// bytes and the metadata a copy is written without.
pub fn read_for_reencoding(
    path: &Path,
    format: ImageFormat,
    to_copy: bool,
    action: &str,
) -> anyhow::Result<(hegui_label::FileBytes, Vec<&'static str>)> {
    let registry = hegui_label::Registry::new();
    let (bytes, handler) = hegui_label::read_file(&registry, path)?;
    if !handler.read(&bytes)?.is_empty() {
        bail!(
            "{}: the file already carries an implicit label, which the {action} would drop (the image is re-encoded, and the label's signature would no longer hold); run `hegui label add` after it, or `hegui label strip` the file first",
            path.display()
        );
    }
    let losses = losses(&bytes, format);
    if !losses.always.is_empty() {
        bail!(
            "{}: the image would lose {} (it is re-encoded as a still image of 8 bits per channel); nothing written",
            path.display(),
            losses.always.join(" and ")
        );
    }
    if !losses.metadata.is_empty() && !to_copy {
        bail!(
            "{}: re-encoding would drop its {}; give --out to write a copy without them and keep this file",
            path.display(),
            losses.metadata.join(", ")
        );
    }
    Ok((bytes, losses.metadata))
}

/// Says what a copy was written without.
pub fn note_dropped(out: &Path, dropped: &[&str]) {
    if !dropped.is_empty() {
        eprintln!(
            "{}: written without the input's {}",
            out.display(),
            dropped.join(", ")
        );
    }
}

/// What re-encoding an image loses.
struct Losses {
    /// Lost whatever the output: nothing is written.
    always: Vec<&'static str>,
    /// Metadata not carried over: refused in place, allowed into a copy (`--out`).
    metadata: Vec<&'static str>,
}

fn losses(bytes: &[u8], format: ImageFormat) -> Losses {
    use image::ImageDecoder;
    let mut l = Losses {
        always: Vec::new(),
        metadata: Vec::new(),
    };
    let mut note = |decoder: &mut dyn ImageDecoder, always: &mut Vec<&'static str>| {
        if matches!(
            decoder.color_type().bytes_per_pixel() / decoder.color_type().channel_count().max(1),
            2..
        ) {
            always.push("more than 8 bits per channel");
        }
        if decoder.icc_profile().ok().flatten().is_some() {
            l.metadata.push("ICC colour profile");
        }
        if decoder.exif_metadata().ok().flatten().is_some() {
            l.metadata.push("EXIF metadata");
        }
    };
    let cursor = Cursor::new(bytes);
    match format {
        ImageFormat::Png => {
            if let Ok(mut d) = image::codecs::png::PngDecoder::new(cursor) {
                if d.is_apng().unwrap_or(false) {
                    l.always.push("its animation");
                }
                note(&mut d, &mut l.always);
            }
        }
        ImageFormat::Jpeg => {
            if let Ok(mut d) = image::codecs::jpeg::JpegDecoder::new(cursor) {
                note(&mut d, &mut l.always);
            }
        }
        ImageFormat::WebP => {
            if let Ok(mut d) = image::codecs::webp::WebPDecoder::new(cursor) {
                if d.has_animation() {
                    l.always.push("its animation");
                }
                note(&mut d, &mut l.always);
            }
        }
        _ => {}
    }
    if hegui_label::c2pa_carrier(bytes).is_some() {
        l.metadata.push("C2PA manifest");
    }
    l
}
