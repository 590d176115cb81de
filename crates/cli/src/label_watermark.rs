//! `hegui label watermark`: the invisible image watermark (`hegui-watermark`) for files made
//! outside the gateway, with the key and payload the gateway's `/v1/images/generations` uses,
//! so `hegui label inspect --watermark-key-file` reads both alike.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use hegui_label::write_atomic;
use hegui_watermark::Strength;
use image::{DynamicImage, ImageFormat};
use serde_json::json;

#[derive(Args, Debug)]
pub struct WatermarkArgs {
    /// The image (png, jpg/jpeg, webp). Replaced unless --out is given.
    pub file: PathBuf,
    /// The watermark secret: a file of at least 16 bytes, as `[media] watermark_key_file`
    /// (the gateway creates one on first start). This file alone, not HEGUI_WATERMARK_KEY:
    /// `inspect --watermark-key-file` reads files. Created (32 random bytes, mode 0600) when
    /// it does not exist.
    #[arg(long)]
    pub key_file: PathBuf,
    /// The ProduceID whose 64-bit payload the watermark carries. Default: a fresh UUIDv7,
    /// printed; give the same one to `hegui label add --produce-id`.
    #[arg(long)]
    pub produce_id: Option<String>,
    /// Write the watermarked image here instead of replacing FILE.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn format_of(path: &Path) -> anyhow::Result<ImageFormat> {
    match crate::image_out::format_of(path) {
        Some(f) => Ok(f),
        None => bail!(
            "{}: the watermark is for images (png, jpg, jpeg, webp), not {:?} files",
            path.display(),
            path.extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
        ),
    }
}

pub fn run(a: WatermarkArgs) -> anyhow::Result<()> {
    let format = format_of(&a.file)?;
    let out = a.out.clone().unwrap_or_else(|| a.file.clone());
    format_of(&out).and_then(|f| {
        if f == format {
            Ok(())
        } else {
            bail!(
                "{}: --out must keep the input's format ({format:?})",
                out.display()
            )
        }
    })?;
    let (bytes, dropped) =
        crate::image_out::read_for_reencoding(&a.file, format, a.out.is_some(), "watermark")?;
    let key = key(&a.key_file)?;
    let produce_id = a
        .produce_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let payload = hegui_watermark::payload_from_produce_id(&produce_id);
    let img = image::load_from_memory_with_format(&bytes, format)
        .with_context(|| format!("{}: not a readable {format:?} image", a.file.display()))?;
    let (width, height) = (img.width(), img.height());
    let cannot = || format!("{}: cannot watermark it", a.file.display());
    // Alpha is kept as it was; the watermark lives in the colour channels.
    let marked = if img.color().has_alpha() && format != ImageFormat::Jpeg {
        let mut rgba = img.into_rgba8();
        hegui_watermark::embed_rgba(&mut rgba, &key, payload, Strength::Normal)
            .with_context(cannot)?;
        DynamicImage::ImageRgba8(rgba)
    } else {
        let rgb = hegui_watermark::embed(&img.into_rgb8(), &key, payload, Strength::Normal)
            .with_context(cannot)?;
        DynamicImage::ImageRgb8(rgb)
    };
    write_atomic(&out, &crate::image_out::encode(marked, format)?)?;
    crate::image_out::note_dropped(&out, &dropped);
    let payload_hex = format!("{payload:016x}");
    if a.json {
        println!(
            "{}",
            json!({"file": out, "width": width, "height": height, "produce_id": produce_id,
                   "payload": payload_hex})
        );
    } else {
        println!(
            "{}: watermarked ({width}×{height}, payload {payload_hex} from ProduceID {produce_id}); label it with `hegui label add {} --produce-id {produce_id} …`",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

/// The watermark key from `path`, and only from it: `hegui label inspect
/// --watermark-key-file` reads the file alone, so `HEGUI_WATERMARK_KEY` (which the gateway
/// prefers) must not silently stand in for it. A missing file is created as the gateway
/// creates its own.
fn key(path: &Path) -> anyhow::Result<hegui_watermark::WatermarkKey> {
    if path.exists() {
        let secret = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if secret.len() < 16 {
            bail!(
                "{}: a watermark key file holds at least 16 bytes of secret",
                path.display()
            );
        }
        return Ok(hegui_watermark::WatermarkKey::from_secret(&secret));
    }
    if std::env::var_os("HEGUI_WATERMARK_KEY").is_some() {
        bail!(
            "{} does not exist, and HEGUI_WATERMARK_KEY is set: `hegui label inspect --watermark-key-file` reads key files only, so write that secret to {} (or name an existing key file)",
            path.display(),
            path.display()
        );
    }
    let key = hegui_gateway::load_watermark_key(path)?;
    eprintln!(
        "created a new watermark key in {}; back it up: without it the watermark cannot be detected",
        path.display()
    );
    Ok(key)
}
