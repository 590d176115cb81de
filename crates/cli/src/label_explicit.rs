//! `hegui label explicit`: the visible or audible label (GB 45438 explicit labels) on an
//! image, an audio file or a video. Run it before `hegui label add`: the explicit label changes
//! the content, and the implicit label's signature binds the content as delivered.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use hegui_explicit::{
    AudioFileLabeler, CuePlacement, ImageLabelOptions, ImageLabeler, Position, VideoLabelOptions,
    VideoLabeler, WavLabeler, Wording,
};
use serde_json::json;

#[derive(Args, Debug)]
pub struct ExplicitArgs {
    /// The file to label (image: png, jpg/jpeg, webp; audio: wav, mp3, flac, ogg, opus, m4a;
    /// video: mp4, mov, mkv, webm). Replaced unless --out is given.
    pub file: PathBuf,
    /// Write the labeled file here instead.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The wording (must name AI and generation, e.g. "AI生成", "人工智能生成").
    #[arg(long, default_value = "AI生成")]
    pub wording: String,
    /// Where an image or video label goes.
    #[arg(long, value_enum, default_value = "bottom-right")]
    pub corner: CornerArg,
    /// Where the audio cue goes.
    #[arg(long, value_enum, default_value = "both")]
    pub cue: CueArg,
    /// How long a video label stays on the opening frames (seconds, at least 2).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum CornerArg {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    TopCenter,
    BottomCenter,
}

impl From<CornerArg> for Position {
    fn from(c: CornerArg) -> Position {
        match c {
            CornerArg::TopLeft => Position::TopLeft,
            CornerArg::TopRight => Position::TopRight,
            CornerArg::BottomLeft => Position::BottomLeft,
            CornerArg::BottomRight => Position::BottomRight,
            CornerArg::TopCenter => Position::TopCenter,
            CornerArg::BottomCenter => Position::BottomCenter,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum CueArg {
    Start,
    End,
    Both,
}

enum Kind {
    Image(image::ImageFormat),
    Audio,
    Video,
}

fn kind(path: &Path) -> anyhow::Result<Kind> {
    if let Some(format) = crate::image_out::format_of(path) {
        return Ok(Kind::Image(format));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "wav" | "mp3" | "flac" | "ogg" | "oga" | "opus" | "m4a" => Kind::Audio,
        "mp4" | "mov" | "mkv" | "webm" | "m4v" => Kind::Video,
        other => anyhow::bail!(
            "{}: cannot tell the media kind from the extension {other:?}; explicit labels are for images (png, jpg, webp), audio (wav, mp3, flac, ogg, opus, m4a) and video (mp4, mov, mkv, webm); for text, put the wording in the text itself",
            path.display()
        ),
    })
}

pub fn run(a: ExplicitArgs) -> anyhow::Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.file.clone());
    let wording = Wording::new(&a.wording)?;
    let image_options = ImageLabelOptions {
        wording,
        position: a.corner.into(),
        ..ImageLabelOptions::default()
    };
    let report = match kind(&a.file)? {
        Kind::Image(format) => {
            let (bytes, dropped) = crate::image_out::read_for_reencoding(
                &a.file,
                format,
                a.out.is_some(),
                "explicit label",
            )?;
            let mut img = image::load_from_memory_with_format(&bytes, format)
                .with_context(|| format!("{}: not a readable {format:?} image", a.file.display()))?
                .to_rgba8();
            let layout = ImageLabeler::new(image_options)?.label_rgba(&mut img)?;
            // JPEG has no alpha: flattened; the label plate is opaque enough to read either way.
            let encoded = crate::image_out::encode(image::DynamicImage::ImageRgba8(img), format)?;
            hegui_label::write_atomic(&out, &encoded)?;
            crate::image_out::note_dropped(&out, &dropped);
            json!({"file": out, "kind": "image", "layout": {
                "x": layout.x,
                "y": layout.y,
                "width": layout.width,
                "height": layout.height,
                "cap_height_px": layout.cap_height_px,
                "required_px": layout.required_px,
            }})
        }
        Kind::Audio => {
            let placement = match a.cue {
                CueArg::Start => CuePlacement::Start,
                CueArg::End => CuePlacement::End,
                CueArg::Both => CuePlacement::Both,
            };
            AudioFileLabeler {
                wav: WavLabeler {
                    placement,
                    ..WavLabeler::default()
                },
            }
            .label_file(&a.file, &out)?;
            json!({"file": out, "kind": "audio", "cue": format!("{placement:?}").to_lowercase()})
        }
        Kind::Video => {
            let r = VideoLabeler::new(VideoLabelOptions {
                image: image_options,
                duration_secs: a.seconds,
            })?
            .label_file(&a.file, &out)?;
            json!({"file": out, "kind": "video", "width": r.width, "height": r.height,
                   "seconds": r.duration_secs})
        }
    };
    if a.json {
        println!("{report}");
    } else {
        println!(
            "{}: explicit label added; now add the implicit label with `hegui label add`",
            out.display()
        );
    }
    Ok(())
}
