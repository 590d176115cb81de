//! Interoperability: files labeled by hegui are read by the tools others use, and still decode.
//! - exiftool reads the AIGC JSON from XMP (JPEG, WebP, GIF, TIFF), PNG tEXt, MP4/MOV keys
//!   and the PDF Info dictionary;
//! - ffprobe reads the MP4/MOV `AIGC` key, and ffmpeg decodes every labeled audio/video file
//!   without an error;
//! - mutagen reads ID3 `TXXX:AIGC` and the FLAC / Ogg Vorbis / Ogg Opus comment;
//! - Pillow opens and decodes every labeled image and reads the PNG text chunk.
//!
//! A missing tool skips its check with a message, unless HEGUI_REQUIRE_INTEROP=1 (CI), where
//! it fails. Python tools are looked up in `.venv` at the workspace root (or HEGUI_PYTHON).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::samples;
use hegui_label::{label_bytes, LabelSigningKey, Registry};
use hegui_types::AigcLabel;

const PRODUCE_ID: &str = "0190f3a2-7b7c-7c3e-9a55-interop00001";

fn required() -> bool {
    std::env::var("HEGUI_REQUIRE_INTEROP").as_deref() == Ok("1")
}

/// True if `tool` runs; otherwise skip (or fail under HEGUI_REQUIRE_INTEROP=1).
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if required() {
            panic!("{tool} is required (HEGUI_REQUIRE_INTEROP=1) but is not available");
        }
        eprintln!("SKIP: {tool} not available; set HEGUI_REQUIRE_INTEROP=1 to make this a failure");
    }
    ok
}

fn python() -> String {
    if let Ok(p) = std::env::var("HEGUI_PYTHON") {
        return p;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".into()
}

/// Every sample, labeled and signed, written to `dir`.
fn labeled(dir: &Path) -> Vec<(String, PathBuf)> {
    let reg = Registry::new();
    let key = LabelSigningKey::from_secret([1; 32]);
    let label = AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: PRODUCE_ID.into(),
        reserved_code1: None,
        content_propagator: None,
        propagate_id: None,
        reserved_code2: None,
    };
    samples::all()
        .into_iter()
        .map(|(name, file, bytes)| {
            let h = reg.by_name(name).unwrap();
            let out = label_bytes(h, &bytes, &label, Some(&key)).unwrap();
            let p = dir.join(file);
            std::fs::write(&p, out).unwrap();
            (file.to_string(), p)
        })
        .collect()
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The AIGC payload in `v` (any string value holding our ProduceID), parsed.
fn aigc_in(v: &serde_json::Value) -> Option<serde_json::Value> {
    match v {
        serde_json::Value::String(s) if s.contains(PRODUCE_ID) => serde_json::from_str(s).ok(),
        serde_json::Value::Object(m) => m.values().find_map(aigc_in),
        serde_json::Value::Array(a) => a.iter().find_map(aigc_in),
        _ => None,
    }
}

fn assert_payload(tool: &str, file: &str, p: Option<serde_json::Value>) {
    let p = p.unwrap_or_else(|| panic!("{tool} did not report the AIGC label of {file}"));
    assert_eq!(p["AIGC"]["ProduceID"], PRODUCE_ID, "{tool} on {file}: {p}");
    assert!(
        p["AIGC"]["ReservedCode1"]
            .as_str()
            .unwrap()
            .starts_with("ed25519:"),
        "{tool} on {file}: {p}"
    );
}

#[test]
fn exiftool_reads_the_label_from_xmp_png_mp4_and_pdf_carriers() {
    if !have("exiftool", &["-ver"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for (file, p) in labeled(d.path()) {
        if !matches!(
            file.rsplit('.').next(),
            Some("png" | "jpg" | "webp" | "gif" | "tiff" | "mp4" | "mov" | "pdf")
        ) {
            continue;
        }
        let (ok, out, err) = run(Command::new("exiftool").args(["-j", "-a", "-G1"]).arg(&p));
        assert!(ok, "exiftool {file}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_payload("exiftool", &file, aigc_in(&v));
    }
}

#[test]
fn ffprobe_reads_the_mp4_key_and_ffmpeg_decodes_every_labeled_media_file() {
    if !have("ffprobe", &["-version"]) || !have("ffmpeg", &["-version"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for (file, p) in labeled(d.path()) {
        let ext = file.rsplit('.').next().unwrap_or("");
        if matches!(ext, "mp4" | "mov") {
            let (ok, out, err) = run(Command::new("ffprobe")
                .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
                .arg(&p));
            assert!(ok, "ffprobe {file}: {err}");
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let tag = v["format"]["tags"]["AIGC"]
                .as_str()
                .unwrap_or_else(|| panic!("ffprobe shows no AIGC tag for {file}: {v}"));
            assert_payload("ffprobe", &file, serde_json::from_str(tag).ok());
        }
        if matches!(ext, "mp4" | "mov" | "mp3" | "wav" | "flac" | "ogg" | "opus") {
            let (ok, _, err) = run(Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(&p)
                .args(["-f", "null", "-"]));
            assert!(
                ok && err.trim().is_empty(),
                "ffmpeg cannot decode labeled {file}: {err}"
            );
        }
    }
}

const MUTAGEN: &str = r#"
import sys, json
from mutagen.id3 import ID3
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis
from mutagen.oggopus import OggOpus
out = {}
for p in sys.argv[1:]:
    if p.endswith('.mp3'):
        out[p] = ID3(p).getall('TXXX:AIGC')[0].text[0]
    elif p.endswith('.flac'):
        out[p] = FLAC(p)['aigc'][0]
    elif p.endswith('.ogg'):
        out[p] = OggVorbis(p)['aigc'][0]
    elif p.endswith('.opus'):
        out[p] = OggOpus(p)['aigc'][0]
print(json.dumps(out))
"#;

const PILLOW: &str = r#"
import sys, json
from PIL import Image
out = {}
for p in sys.argv[1:]:
    im = Image.open(p)
    im.load()
    out[p] = {'size': list(im.size), 'aigc': im.info.get('AIGC') if p.endswith('.png') else None}
print(json.dumps(out))
"#;

fn python_with(module: &str) -> Option<String> {
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    if required() {
        panic!("python module {module} is required (HEGUI_REQUIRE_INTEROP=1) but `{py} -c 'import {module}'` fails");
    }
    eprintln!("SKIP: python module {module} not available with {py}; set HEGUI_REQUIRE_INTEROP=1 to make this a failure");
    None
}

#[test]
fn mutagen_reads_id3_txxx_and_vorbis_comments() {
    let Some(py) = python_with("mutagen") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = labeled(d.path())
        .into_iter()
        .filter(|(f, _)| matches!(f.rsplit('.').next(), Some("mp3" | "flac" | "ogg" | "opus")))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(files.len(), 4);
    let (ok, out, err) = run(Command::new(&py).arg("-c").arg(MUTAGEN).args(&files));
    assert!(ok, "mutagen: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for p in &files {
        let s = v[p.display().to_string()]
            .as_str()
            .unwrap_or_else(|| panic!("mutagen found no AIGC in {}: {v}", p.display()));
        assert_payload(
            "mutagen",
            &p.display().to_string(),
            serde_json::from_str(s).ok(),
        );
    }
}

#[test]
fn pillow_opens_every_labeled_image_and_reads_the_png_text_chunk() {
    let Some(py) = python_with("PIL") else { return };
    let d = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = labeled(d.path())
        .into_iter()
        .filter(|(f, _)| {
            matches!(
                f.rsplit('.').next(),
                Some("png" | "jpg" | "webp" | "gif" | "tiff")
            )
        })
        .map(|(_, p)| p)
        .collect();
    assert_eq!(files.len(), 5);
    let (ok, out, err) = run(Command::new(&py).arg("-c").arg(PILLOW).args(&files));
    assert!(ok, "Pillow: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for p in &files {
        let r = &v[p.display().to_string()];
        assert_eq!(
            r["size"],
            serde_json::json!([40, 30]),
            "{}: {r}",
            p.display()
        );
        if p.extension().is_some_and(|e| e == "png") {
            let s = r["aigc"]
                .as_str()
                .unwrap_or_else(|| panic!("Pillow found no AIGC text chunk: {r}"));
            assert_payload(
                "Pillow",
                &p.display().to_string(),
                serde_json::from_str(s).ok(),
            );
        }
    }
}
