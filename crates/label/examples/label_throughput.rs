//! Implicit-labeling throughput per format: builds a sample of about SIZE MB per format in
//! memory (real encoders for images; real fixtures grown with more media data for audio and
//! video), then times `write` (label only) and `label_bytes` with a key (content digest +
//! signature + write), with files in memory as if in page cache; then `label_file` on a file
//! in /dev/shm (read, sign and write, read back, temporary file, sync, rename). Used by
//! bench/label/label.sh.
//!
//! usage: cargo run --release -p hegui-label --example label_throughput -- [SIZE_MB [FORMAT…]]
//! With `LABEL_THROUGHPUT_SAVE=DIR` the unlabeled samples are also written to DIR, each as
//! NAME.EXT (`pdf-pages.pdf`, say).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::time::Instant;

use hegui_label::{label_bytes, label_file, DigestAlg, LabelSigningKey, Registry};
use hegui_types::AigcLabel;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn image(format: image::ImageFormat, bytes: usize) -> Vec<u8> {
    let side = ((bytes / 3) as f64).sqrt() as u32;
    let img = image::RgbImage::from_raw(side, side, noise((side * side * 3) as usize)).unwrap();
    let mut c = Cursor::new(Vec::new());
    img.write_to(&mut c, format).unwrap();
    c.into_inner()
}

fn wav(bytes: usize) -> Vec<u8> {
    let data = noise(bytes & !1);
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&((36 + data.len()) as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&[1, 0, 2, 0]);
    v.extend_from_slice(&48000u32.to_le_bytes());
    v.extend_from_slice(&(48000u32 * 4).to_le_bytes());
    v.extend_from_slice(&[4, 0, 16, 0]);
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&data);
    v
}

/// The faststart MP4 fixture with a second, large `mdat` (moov first, so labeling moves it all).
fn mp4(bytes: usize) -> Vec<u8> {
    let mut v = fixture("sample.mp4");
    v.extend_from_slice(&((bytes + 8) as u32).to_be_bytes());
    v.extend_from_slice(b"mdat");
    v.extend_from_slice(&noise(bytes));
    v
}

/// The MOV fixture (mdat, then moov) with a second, large `mdat` after the moov, which the
/// label's growth of the moov moves.
fn mov(bytes: usize) -> Vec<u8> {
    let mut v = fixture("sample.mov");
    v.extend_from_slice(&((bytes + 8) as u32).to_be_bytes());
    v.extend_from_slice(b"mdat");
    v.extend_from_slice(&noise(bytes));
    v
}

/// Ogg's page CRC: CRC-32/MPEG-2 started from 0, as the handler computes it (`crc-fast`).
fn ogg_crc(page: &[u8]) -> u32 {
    let mut d = crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Mpeg2, 0);
    d.update(page);
    d.finalize() as u32
}

/// The Ogg Vorbis fixture's header pages, then pages of about 5 KB (its audio page's packets
/// five times over) up to `bytes`, numbered in sequence with their CRCs, the last one ending
/// the stream.
fn ogg(bytes: usize) -> Vec<u8> {
    let f = fixture("sample.ogg");
    // Pages: (start, end, segment table, body).
    let mut pages = Vec::new();
    let mut at = 0;
    while at < f.len() {
        let n = f[at + 26] as usize;
        let segs = f[at + 27..at + 27 + n].to_vec();
        let body_len: usize = segs.iter().map(|&s| s as usize).sum();
        let body = f[at + 27 + n..at + 27 + n + body_len].to_vec();
        pages.push((at, segs, body));
        at += 27 + n + body_len;
    }
    // Pages 0 and 1 are the headers, page 2 audio (its last packet ends in it).
    let mut v = f[..pages[2].0].to_vec();
    let (_, segs, body) = &pages[2];
    let segs = segs.repeat(5);
    let body = body.repeat(5);
    let serial = &f[14..18];
    let mut seq = 2u32;
    let mut granule = 0u64;
    while v.len() < bytes {
        granule += 5 * 22016;
        let last = v.len() + 27 + segs.len() + body.len() >= bytes;
        let mut page = b"OggS\0".to_vec();
        page.push(if last { 4 } else { 0 });
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(serial);
        page.extend_from_slice(&seq.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(segs.len() as u8);
        page.extend_from_slice(&segs);
        page.extend_from_slice(&body);
        let crc = ogg_crc(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        v.extend_from_slice(&page);
        seq += 1;
    }
    v
}

/// A GIF of noise in a 256-colour palette (`gif`'s encoder; LZW makes noise about 1.4× as
/// large, so the image has `bytes` / 1.4 pixels).
fn gif(bytes: usize) -> Vec<u8> {
    let side = ((bytes as f64 / 1.4).sqrt() as u16).max(1);
    let palette: Vec<u8> = (0..=255u8)
        .flat_map(|i| [i, i.wrapping_mul(7), !i])
        .collect();
    let mut out = Vec::new();
    {
        let mut e = gif::Encoder::new(&mut out, side, side, &palette).unwrap();
        let px = noise(side as usize * side as usize);
        let frame = gif::Frame::from_indexed_pixels(side, side, px, None);
        e.write_frame(&frame).unwrap();
    }
    out
}

/// The fixture's tag and header, then its audio frames repeated.
fn repeat_tail(name: &str, skip: usize, bytes: usize) -> Vec<u8> {
    let f = fixture(name);
    let mut v = f[..skip].to_vec();
    while v.len() < bytes {
        v.extend_from_slice(&f[skip..]);
    }
    v
}

/// A PDF of about `bytes` bytes: `pages` pages, each showing one image of noise.
fn pdf(bytes: usize, pages: usize) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let side = ((bytes / pages / 3) as f64).sqrt() as i64;
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for _ in 0..pages {
        let img = Stream::new(
            dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => side, "Height" => side,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8},
            noise((side * side * 3) as usize),
        );
        let img_id = doc.add_object(img);
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            b"q 100 0 0 100 0 0 cm /Im0 Do Q".to_vec(),
        ));
        let page_id = doc.add_object(
            dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "Resources" => dictionary! {"XObject" => dictionary! {"Im0" => img_id}}},
        );
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => kids, "Count" => pages as i64},
        ),
    );
    let cat = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", cat);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn docx(bytes: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(bytes > 1 << 31);
    w.start_file("[Content_Types].xml", stored).unwrap();
    w.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#).unwrap();
    w.start_file("_rels/.rels", stored).unwrap();
    w.write_all(br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>"#).unwrap();
    w.start_file("word/media/image1.bin", stored).unwrap();
    w.write_all(&noise(bytes)).unwrap();
    w.finish().unwrap().into_inner()
}

fn text(bytes: usize) -> Vec<u8> {
    let line = "本内容由人工智能生成，这是一行用于测试吞吐量的文字。\n";
    line.repeat(bytes / line.len() + 1).into_bytes()
}

/// Best time of at least 3 runs (more, up to 20, while under a second in all).
fn time(f: impl Fn() -> Vec<u8>) -> f64 {
    let mut best = f64::MAX;
    let mut runs = 0;
    let start = Instant::now();
    while runs < 3 || (start.elapsed().as_secs_f64() < 1.0 && runs < 20) {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        drop(out);
        runs += 1;
    }
    best
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let size = mb << 20;
    let reg = Registry::new();
    let key = LabelSigningKey::from_secret([7; 32]);
    let label = AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: "0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11".into(),
        reserved_code1: None,
        content_propagator: None,
        propagate_id: None,
        reserved_code2: None,
    };
    let mp3_tag = {
        let f = fixture("sample.mp3");
        10 + f[6..10].iter().fold(0usize, |a, &b| (a << 7) | b as usize)
    };
    let flac_audio = {
        // fLaC + metadata blocks; the rest is frames.
        let f = fixture("sample.flac");
        let mut at = 4;
        loop {
            let last = f[at] & 0x80 != 0;
            let len = u32::from_be_bytes([0, f[at + 1], f[at + 2], f[at + 3]]) as usize;
            at += 4 + len;
            if last {
                break at;
            }
        }
    };
    // Built only when asked for (making them takes longer than labeling them).
    type Make = Box<dyn Fn() -> Vec<u8>>;
    let samples: Vec<(&str, &str, Make)> = vec![
        (
            "png",
            "PNG (noise, real encoder)",
            Box::new(move || image(image::ImageFormat::Png, size)),
        ),
        (
            "jpeg",
            "JPEG (noise, real encoder)",
            Box::new(move || image(image::ImageFormat::Jpeg, size * 2)),
        ),
        (
            "gif",
            "GIF (noise, real encoder)",
            Box::new(move || gif(size)),
        ),
        (
            "webp",
            "WebP (noise, real lossless encoder)",
            Box::new(move || image(image::ImageFormat::WebP, size)),
        ),
        (
            "tiff",
            "TIFF (real encoder)",
            Box::new(move || image(image::ImageFormat::Tiff, size)),
        ),
        ("wav", "WAV", Box::new(move || wav(size))),
        ("ogg", "Ogg Vorbis", Box::new(move || ogg(size))),
        (
            "mp4",
            "MP4 faststart (mdat moves)",
            Box::new(move || mp4(size)),
        ),
        (
            "mov",
            "MOV (mdat, moov, large mdat that moves)",
            Box::new(move || mov(size)),
        ),
        (
            "mp3",
            "MP3",
            Box::new(move || repeat_tail("sample.mp3", mp3_tag, size)),
        ),
        (
            "flac",
            "FLAC",
            Box::new(move || repeat_tail("sample.flac", flac_audio, size)),
        ),
        (
            "pdf",
            "PDF, one image (incremental update)",
            Box::new(move || pdf(size, 1)),
        ),
        (
            "pdf-pages",
            "PDF, 64 pages of one image each (incremental update)",
            Box::new(move || pdf(size, 64)),
        ),
        ("ooxml", "DOCX (ZIP spliced)", Box::new(move || docx(size))),
        ("text", "text", Box::new(move || text(size))),
        ("markdown", "Markdown", Box::new(move || text(size))),
        ("html", "HTML", Box::new(move || text(size))),
    ];
    // Files for `label_file` on tmpfs (page cache, no device under it), else the temp dir.
    let shm = std::path::Path::new("/dev/shm");
    let dir = tempfile::tempdir_in(if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    })
    .unwrap();
    // The content digest's hash bounds the signed columns: both algorithms a signature can
    // name, on one core, over `size` bytes in memory.
    let data = text(size);
    for alg in [DigestAlg::Sha256, DigestAlg::Blake3] {
        let secs = time(|| alg.digest(&data).to_vec());
        println!(
            "{} on one core: {:.0} MB/s",
            alg.name(),
            data.len() as f64 / 1e6 / secs
        );
    }
    drop(data);
    println!();
    println!("| format | file MB | write MB/s | digest+sign+write MB/s | label_file MB/s |");
    println!("|---|---:|---:|---:|---:|");
    let only: Vec<String> = std::env::args().skip(2).collect();
    for (name, title, make) in samples {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let bytes = make();
        // The handler, and the sample's file extension.
        let (h, ext) = match name {
            "mov" => (reg.by_name("mp4").unwrap(), "mov"),
            _ => {
                let h = reg.by_name(name.split('-').next().unwrap()).unwrap();
                (h, h.extensions()[0])
            }
        };
        if let Some(save) = std::env::var_os("LABEL_THROUGHPUT_SAVE") {
            // The unlabeled samples, for timing the `hegui label add` command on them.
            let to = std::path::Path::new(&save).join(format!("{name}.{ext}"));
            std::fs::write(to, &bytes).unwrap();
        }
        let mb = bytes.len() as f64 / (1 << 20) as f64;
        let w = time(|| h.write(&bytes, &label).unwrap());
        let s = time(|| label_bytes(h, &bytes, &label, Some(&key)).unwrap());
        // The CLI's path: read the file, sign and write, read the label back, write a
        // temporary file, sync, rename. The unlabeled file is put back before each run.
        let path = dir.path().join(format!("sample.{ext}"));
        let mut f = f64::MAX;
        for _ in 0..3 {
            std::fs::write(&path, &bytes).unwrap();
            let t = Instant::now();
            label_file(&reg, &path, &label, Some(&key)).unwrap();
            f = f.min(t.elapsed().as_secs_f64());
        }
        println!(
            "| {title} | {mb:.1} | {:.0} | {:.0} | {:.0} |",
            mb / w,
            mb / s,
            mb / f
        );
    }
}
