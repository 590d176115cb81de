//! Labels on generated media (GB 45438): the visible label and the invisible watermark on
//! images, the audio cue on speech, and the signed implicit label in the file's metadata.
//!
//! Pure and blocking (pixels and samples): the endpoints in [`crate::media_api`] run it on
//! the blocking pool. Nothing here knows HTTP or storage.

use std::io::Cursor;
use std::path::Path;

use hegui_config::{AudioCue, ImageCorner, MediaConfig};
use hegui_explicit::{
    AudioFileLabeler, CuePlacement, ImageLabelOptions, ImageLabeler, Tools, WavLabeler, Wording,
};
use hegui_label::{LabelPublicKey, LabelSigningKey, Registry};
use hegui_types::AigcLabel;
use hegui_watermark::{Strength, WatermarkKey};
use image::DynamicImage;
use sha2::{Digest, Sha256};

/// Why a generated file could not be labeled (it is then not delivered).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The model server's bytes are not an image or audio file hegui can read.
    #[error("the model server's {what} cannot be read: {reason}")]
    Unreadable {
        /// `image` or `audio`.
        what: &'static str,
        /// The decoder's words.
        reason: String,
    },
    /// A label could not be applied.
    #[error("the {what} could not be applied: {reason}")]
    Label {
        /// Which label (visible label, watermark, audio cue, implicit label).
        what: &'static str,
        /// Why.
        reason: String,
    },
}

fn label_err(what: &'static str) -> impl Fn(String) -> MediaError {
    move |reason| MediaError::Label { what, reason }
}

/// The audio formats hegui delivers labeled: each has a metadata carrier for the implicit
/// label (`aac` as raw ADTS and `pcm` have none, so they are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    /// RIFF WAVE, labeled in-process.
    Wav,
    /// MP3 (ffmpeg for the cue; ID3v2 `TXXX:AIGC`).
    Mp3,
    /// FLAC (ffmpeg; Vorbis comment).
    Flac,
    /// Ogg Opus (ffmpeg; Vorbis comment).
    Opus,
}

impl SpeechFormat {
    /// The `response_format` name.
    pub fn name(self) -> &'static str {
        match self {
            SpeechFormat::Wav => "wav",
            SpeechFormat::Mp3 => "mp3",
            SpeechFormat::Flac => "flac",
            SpeechFormat::Opus => "opus",
        }
    }

    /// Parses a `response_format`.
    pub fn parse(s: &str) -> Option<SpeechFormat> {
        [Self::Wav, Self::Mp3, Self::Flac, Self::Opus]
            .into_iter()
            .find(|f| f.name() == s)
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Mp3 => "audio/mpeg",
            SpeechFormat::Flac => "audio/flac",
            SpeechFormat::Opus => "audio/ogg",
        }
    }

    /// The label crate's handler for the format.
    fn handler(self) -> &'static str {
        match self {
            SpeechFormat::Wav => "wav",
            SpeechFormat::Mp3 => "mp3",
            SpeechFormat::Flac => "flac",
            SpeechFormat::Opus => "ogg",
        }
    }
}

/// One labeled image.
#[derive(Debug, Clone)]
pub struct LabeledImage {
    /// The PNG delivered.
    pub png: Vec<u8>,
    /// Its implicit label (ReservedCode1 signed).
    pub label: AigcLabel,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The watermark's payload, when one was embedded.
    pub watermark_payload: Option<u64>,
}

/// The media labeling stage.
pub struct MediaLabels {
    /// Serve `/v1/images/generations`.
    pub images: bool,
    /// Serve `/v1/audio/speech`.
    pub audio: bool,
    image: ImageLabeler,
    cue: WavLabeler,
    cue_name: &'static str,
    watermark: Option<WatermarkKey>,
    signing: LabelSigningKey,
    registry: Registry,
}

impl std::fmt::Debug for MediaLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLabels")
            .field("images", &self.images)
            .field("audio", &self.audio)
            .field("cue", &self.cue_name)
            .field("watermark", &self.watermark.is_some())
            .field("signing", &self.signing)
            .finish()
    }
}

impl MediaLabels {
    /// The stage as configured; `watermark` is the key when `cfg.watermark` is on. Errors
    /// name the wording when the shipped font cannot draw it.
    pub fn new(
        cfg: &MediaConfig,
        watermark: Option<WatermarkKey>,
        signing: LabelSigningKey,
    ) -> Result<MediaLabels, String> {
        let wording = Wording::new(&cfg.explicit_text).map_err(|e| e.to_string())?;
        let position = match cfg.image_corner {
            ImageCorner::TopLeft => hegui_explicit::Position::TopLeft,
            ImageCorner::TopRight => hegui_explicit::Position::TopRight,
            ImageCorner::BottomLeft => hegui_explicit::Position::BottomLeft,
            ImageCorner::BottomRight => hegui_explicit::Position::BottomRight,
        };
        let image = ImageLabeler::new(ImageLabelOptions {
            wording,
            position,
            ..ImageLabelOptions::default()
        })
        .map_err(|e| e.to_string())?;
        let (placement, cue_name) = match cfg.audio_cue {
            AudioCue::Start => (CuePlacement::Start, "start"),
            AudioCue::End => (CuePlacement::End, "end"),
            AudioCue::Both => (CuePlacement::Both, "both"),
        };
        Ok(MediaLabels {
            images: cfg.images,
            audio: cfg.audio,
            image,
            cue: WavLabeler {
                placement,
                ..WavLabeler::default()
            },
            cue_name,
            watermark: if cfg.watermark { watermark } else { None },
            signing,
            registry: Registry::new(),
        })
    }

    /// The key that verifies the implicit labels' `ReservedCode1`.
    pub fn label_public_key(&self) -> LabelPublicKey {
        self.signing.public()
    }

    /// The watermark key, when images are watermarked.
    pub fn watermark_key(&self) -> Option<&WatermarkKey> {
        self.watermark.as_ref()
    }

    /// Where the audio cue goes (`start`, `end`, `both`).
    pub fn cue_placement(&self) -> &'static str {
        self.cue_name
    }

    /// Visible label at the configured corner, watermark (payload from the ProduceID), PNG,
    /// then the implicit label (`tEXt` `AIGC`) with `ReservedCode1` signed over the pixels.
    pub fn label_image(
        &self,
        bytes: &[u8],
        mut label: AigcLabel,
    ) -> Result<LabeledImage, MediaError> {
        let img = image::load_from_memory(bytes).map_err(|e| MediaError::Unreadable {
            what: "image",
            reason: e.to_string(),
        })?;
        let (width, height) = (img.width(), img.height());
        let payload = hegui_watermark::payload_from_produce_id(&label.produce_id);
        let visible = label_err("visible label");
        let mark_err = |e: hegui_watermark::WatermarkError| label_err("watermark")(e.to_string());
        let out = if img.color().has_alpha() {
            let mut rgba = img.into_rgba8();
            self.image
                .label_rgba(&mut rgba)
                .map_err(|e| visible(e.to_string()))?;
            if let Some(key) = &self.watermark {
                hegui_watermark::embed_rgba(&mut rgba, key, payload, Strength::Normal)
                    .map_err(mark_err)?;
            }
            DynamicImage::ImageRgba8(rgba)
        } else {
            let mut rgb = img.into_rgb8();
            self.image
                .label_rgb(&mut rgb)
                .map_err(|e| visible(e.to_string()))?;
            if let Some(key) = &self.watermark {
                rgb = hegui_watermark::embed(&rgb, key, payload, Strength::Normal)
                    .map_err(mark_err)?;
            }
            DynamicImage::ImageRgb8(rgb)
        };
        let mut png = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            Cursor::new(&mut png),
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        out.write_with_encoder(encoder)
            .map_err(|e| label_err("PNG encoding")(e.to_string()))?;
        let png = self.implicit("png", &png, &mut label)?;
        Ok(LabeledImage {
            png,
            label,
            width,
            height,
            watermark_payload: self.watermark.as_ref().map(|_| payload),
        })
    }

    /// Audio cue (WAV in-process, other formats through ffmpeg, which `tools` locates), then
    /// the implicit label with `ReservedCode1` signed over the audio.
    pub fn label_audio(
        &self,
        bytes: &[u8],
        format: SpeechFormat,
        tools: Option<&Tools>,
        label: &mut AigcLabel,
    ) -> Result<Vec<u8>, MediaError> {
        let cued = match format {
            SpeechFormat::Wav => self.cue.label_wav(bytes).map_err(|e| match e {
                hegui_explicit::ExplicitError::BadWav { .. } => MediaError::Unreadable {
                    what: "audio",
                    reason: e.to_string(),
                },
                other => label_err("audio cue")(other.to_string()),
            })?,
            _ => {
                let cue = label_err("audio cue");
                let tools = tools.ok_or_else(|| {
                    cue(format!("{} audio needs ffmpeg and ffprobe", format.name()))
                })?;
                let dir = tempfile::tempdir().map_err(|e| cue(e.to_string()))?;
                let input = dir.path().join(format!("in.{}", format.name()));
                let output = dir.path().join(format!("out.{}", format.name()));
                std::fs::write(&input, bytes).map_err(|e| cue(e.to_string()))?;
                AudioFileLabeler { wav: self.cue }
                    .label_file_with(&input, &output, || Ok(tools.clone()))
                    .map_err(|e| cue(e.to_string()))?;
                read(&output).map_err(cue)?
            }
        };
        self.implicit(format.handler(), &cued, label)
    }

    /// Signs `label` over the file's content digest and writes it into the canonical carrier.
    fn implicit(
        &self,
        handler: &str,
        bytes: &[u8],
        label: &mut AigcLabel,
    ) -> Result<Vec<u8>, MediaError> {
        let err = label_err("implicit label");
        let handler = self
            .registry
            .by_name(handler)
            .ok_or_else(|| err(format!("no {handler} handler")))?;
        let digest = handler
            .content_digest(bytes)
            .map_err(|e| err(e.to_string()))?;
        hegui_label::sign::sign_producer(label, &digest, &self.signing)
            .map_err(|e| err(e.to_string()))?;
        handler.write(bytes, label).map_err(|e| err(e.to_string()))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Hex SHA-256 of delivered bytes (what the record keeps instead of the bytes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn labels(watermark: bool) -> MediaLabels {
        let cfg = hegui_config::RawConfig::default().validate(None).unwrap();
        let mut m = cfg.media;
        m.watermark = watermark;
        MediaLabels::new(
            &m,
            Some(WatermarkKey::from_secret(b"test")),
            LabelSigningKey::from_secret([3; 32]),
        )
        .unwrap()
    }

    fn label() -> AigcLabel {
        AigcLabel {
            label: "1".into(),
            content_producer: "001191440300708461136T1XGW3".into(),
            produce_id: uuid::Uuid::now_v7().to_string(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        // Smooth shading with some texture, like a photograph (a hard periodic pattern is
        // not what generated images look like).
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let t = ((fx * 31.0).sin() * (fy * 19.0).cos() * 40.0) as i32;
            let c = |v: i32| v.clamp(0, 255) as u8;
            image::Rgb([
                c(60 + (fx * 150.0) as i32 + t),
                c(90 + (fy * 120.0) as i32 - t),
                c(120 + t / 2),
            ])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// Also the latency measurement quoted in the report: label + watermark + PNG + signature
    /// of one 1024×1024 image.
    #[test]
    fn a_1024_image_gets_all_three_labels() {
        let m = labels(true);
        let src = png(1024, 1024);
        let started = std::time::Instant::now();
        let out = m.label_image(&src, label()).unwrap();
        eprintln!("label_image 1024x1024: {:?}", started.elapsed());
        let img = image::load_from_memory(&out.png).unwrap().into_rgb8();
        let orig = image::load_from_memory(&src).unwrap().into_rgb8();
        assert_eq!(img.dimensions(), (1024, 1024));
        // The plate sits in the bottom-right corner.
        let l = m.image.layout(1024, 1024).unwrap();
        assert!(l.x > 512 && l.y > 512, "{l:?}");
        assert_ne!(
            img.get_pixel(l.x + 1, l.y + 1),
            orig.get_pixel(l.x + 1, l.y + 1)
        );
        let d = hegui_watermark::detect(&img, m.watermark_key().unwrap());
        assert_eq!(d.payload, out.watermark_payload);
        assert!(d.payload.is_some());
        let h = m.registry.by_name("png").unwrap();
        assert_eq!(
            hegui_label::verify(h, &out.png, &[m.label_public_key()]).unwrap(),
            hegui_label::Verdict::Intact
        );
    }

    #[test]
    fn without_watermark_pixels_outside_the_plate_are_unchanged() {
        let m = labels(false);
        let src = png(256, 128);
        let out = m.label_image(&src, label()).unwrap();
        assert!(out.watermark_payload.is_none());
        let img = image::load_from_memory(&out.png).unwrap().into_rgb8();
        let orig = image::load_from_memory(&src).unwrap().into_rgb8();
        let l = m.image.layout(256, 128).unwrap();
        for (x, y, p) in img.enumerate_pixels() {
            let inside = x >= l.x && x < l.x + l.width && y >= l.y && y < l.y + l.height;
            if !inside {
                assert_eq!(
                    p,
                    orig.get_pixel(x, y),
                    "({x}, {y}) outside the plate changed"
                );
            }
        }
        assert_ne!(img.get_pixel(l.x, l.y), orig.get_pixel(l.x, l.y));
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        let m = labels(true);
        assert!(matches!(
            m.label_image(b"not an image", label()),
            Err(MediaError::Unreadable { .. })
        ));
        assert!(matches!(
            m.label_audio(b"RIFF....", SpeechFormat::Wav, None, &mut label()),
            Err(MediaError::Unreadable { .. })
        ));
    }
}
