//! Visible labels on video: the image label overlaid on the opening seconds, through ffmpeg.
//!
//! The label is rendered by [`ImageLabeler`] for the video's displayed size (so its text is
//! ≥ 5% of the shortest side), saved as a transparent PNG and overlaid with
//! `overlay=x:y:enable='between(t,T0,T0+D)'`, T0 being the video stream's start time and D the
//! configured duration (default 3 s, at least 2 s as GB 45438 requires). The video is
//! re-encoded with its own codec where a known encoder exists (H.264, H.265, VP8, VP9, AV1,
//! MPEG-4, MJPEG) and pixel format; audio is copied; tags are kept. Only the first video stream
//! and the audio streams are kept. Non-square pixels are not accounted for.

use std::path::{Path, PathBuf};

use crate::audio::FileJob;
use crate::error::{ExplicitError, Result};
use crate::image_label::{ImageLabelOptions, ImageLabeler, LabelLayout};
use crate::tools::{self, Tools};
use crate::ExplicitLabeler;

/// The shortest label period GB 45438 allows on the opening frames, in seconds.
pub const MIN_LABEL_SECS: f64 = 2.0;

/// Options of the video label.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoLabelOptions {
    /// How the label looks (sized per frame as for images).
    pub image: ImageLabelOptions,
    /// How long the label stays on the opening frames, seconds (≥ 2).
    pub duration_secs: f64,
}

impl Default for VideoLabelOptions {
    fn default() -> Self {
        Self {
            image: ImageLabelOptions::default(),
            duration_secs: 3.0,
        }
    }
}

/// What the video labeler did.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoLabelReport {
    /// Displayed frame width.
    pub width: u32,
    /// Displayed frame height.
    pub height: u32,
    /// Where the label sits in the frame.
    pub layout: LabelLayout,
    /// The label is shown from the stream's start time to this many seconds later.
    pub duration_secs: f64,
    /// The written file.
    pub output: PathBuf,
}

/// Labels video files through ffmpeg.
#[derive(Debug, Clone)]
pub struct VideoLabeler {
    image: ImageLabeler,
    duration_secs: f64,
}

impl VideoLabeler {
    /// Checks the options.
    pub fn new(options: VideoLabelOptions) -> Result<Self> {
        let d = options.duration_secs;
        if !(d.is_finite() && (MIN_LABEL_SECS..=3600.0).contains(&d)) {
            return Err(ExplicitError::InvalidOption {
                option: "duration_secs",
                reason: format!(
                    "{d} is outside 2..=3600 s; GB 45438 requires the label on the opening frames for at least 2 s"
                ),
            });
        }
        Ok(Self {
            image: ImageLabeler::new(options.image)?,
            duration_secs: d,
        })
    }

    /// Labels `input` into `output` (written via a temporary file beside it, then renamed).
    pub fn label_file(&self, input: &Path, output: &Path) -> Result<VideoLabelReport> {
        self.label_file_with(input, output, || Tools::locate_for("video", ""))
    }

    /// As [`VideoLabeler::label_file`], with the tools found by `locate`.
    pub fn label_file_with(
        &self,
        input: &Path,
        output: &Path,
        locate: impl FnOnce() -> Result<Tools>,
    ) -> Result<VideoLabelReport> {
        let tools = locate()?;
        let info = tools.probe(
            input,
            "v:0",
            "stream=width,height,codec_name,pix_fmt,start_time:stream_side_data=rotation",
        )?;
        let bad = |reason: &str| ExplicitError::BadMedia {
            path: input.to_owned(),
            reason: reason.to_owned(),
        };
        let dim = |k: &str| {
            info.get(k)
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| *v > 0)
        };
        let (mut width, mut height) = match (dim("width"), dim("height")) {
            (Some(w), Some(h)) => (w, h),
            _ => {
                return Err(bad(
                    "no video stream with a known size found; pass a video file",
                ))
            }
        };
        // Players (and ffmpeg's autorotate) show a ±90° rotated stream transposed.
        let rotation = info
            .get("rotation")
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(0.0);
        if (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0 {
            std::mem::swap(&mut width, &mut height);
        }
        let start = info
            .get("start_time")
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite())
            .unwrap_or(0.0);

        let (plate, layout) = self.image.render_overlay(width, height)?;
        let work = tempfile::tempdir()
            .map_err(|e| ExplicitError::io("creating a temporary directory for", input, e))?;
        let png = work.path().join("label.png");
        plate.save(&png)?;

        let filter = format!(
            "[0:v:0][1:v]overlay=x={}:y={}:enable='between(t,{:.6},{:.6})'{}[v]",
            layout.x,
            layout.y,
            start,
            start + self.duration_secs,
            info.get("pix_fmt")
                .filter(|p| !p.is_empty() && p.as_str() != "unknown")
                .map(|p| format!(",format={p}"))
                .unwrap_or_default()
        );
        let tmp = tools::temp_beside(output)?;
        let mut args: Vec<std::ffi::OsString> = vec![
            "-i".into(),
            input.into(),
            "-i".into(),
            png.into(),
            "-filter_complex".into(),
            filter.into(),
            "-map".into(),
            "[v]".into(),
            "-map".into(),
            "0:a?".into(),
            "-c:a".into(),
            "copy".into(),
            "-map_metadata".into(),
            "0".into(),
        ];
        let codec = info.get("codec_name").map(String::as_str).unwrap_or("");
        let quality: &[&str] = match codec {
            "h264" => &["-c:v", "libx264", "-crf", "18", "-preset", "medium"],
            "hevc" => &["-c:v", "libx265", "-crf", "20", "-preset", "medium"],
            "vp8" => &["-c:v", "libvpx", "-crf", "10", "-b:v", "8M"],
            "vp9" => &["-c:v", "libvpx-vp9", "-crf", "24", "-b:v", "0"],
            "av1" => &["-c:v", "libaom-av1", "-crf", "28", "-cpu-used", "6"],
            "mpeg4" => &["-c:v", "mpeg4", "-q:v", "2"],
            "mjpeg" => &["-c:v", "mjpeg", "-q:v", "2"],
            // Anything else: ffmpeg's default encoder for the output container.
            _ => &[],
        };
        args.extend(quality.iter().map(Into::into));
        if tools::is_isobmff(output) {
            args.extend(["-movflags".into(), "use_metadata_tags".into()]);
        }
        args.push(tmp.path().into());
        tools.ffmpeg(input, args)?;
        tools::persist(tmp, output)?;
        Ok(VideoLabelReport {
            width,
            height,
            layout,
            duration_secs: self.duration_secs,
            output: output.to_owned(),
        })
    }
}

impl ExplicitLabeler for VideoLabeler {
    type Input = FileJob;
    type Output = VideoLabelReport;

    fn apply(&self, job: FileJob) -> Result<VideoLabelReport> {
        self.label_file(&job.input, &job.output)
    }
}
