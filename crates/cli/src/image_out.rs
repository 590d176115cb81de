//! Encoding an image that `hegui label explicit` or `hegui label watermark` changed, in the
//! format it came in.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat};

/// JPEG quality of a re-encoded JPEG: high, so the re-encoding costs little of the picture
/// (the `image` crate's default is 75; the watermark survives quality 50 either way).
const JPEG_QUALITY: u8 = 95;

/// The image format a file's extension names (png, jpg/jpeg, webp; any case), if any.
pub fn format_of(path: &std::path::Path) -> Option<ImageFormat> {
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
