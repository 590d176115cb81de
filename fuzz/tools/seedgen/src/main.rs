//! Writes fuzz/seeds/label_*/ from the label crate's own sample generators (see fuzz/README.md):
//! `cd fuzz/tools/seedgen && cargo run -- ../../seeds`.

#[path = "../../../../crates/label/tests/common/samples.rs"]
mod samples;

use hegui_label::Registry;
use hegui_types::AigcLabel;
use std::io::Write;

fn label() -> AigcLabel {
    AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: "0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11".into(),
        reserved_code1: None,
        content_propagator: None,
        propagate_id: None,
        reserved_code2: None,
    }
}

const JSON: &str = r#"{"AIGC":{"Label":"1","ContentProducer":"001191440300708461136T1XGW3","ProduceID":"seed-foreign"}}"#;

fn xmp_packet() -> String {
    let j = JSON.replace('&', "&amp;").replace('<', "&lt;");
    format!("<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:TC260=\"http://www.tc260.org.cn/ns/AIGC/1.0/\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:CreatorTool=\"seed\"><TC260:AIGC>{j}</TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>")
}

fn png_chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(typ);
    v.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(typ);
    h.update(data);
    v.extend_from_slice(&h.finalize().to_be_bytes());
    v
}

/// PNG with extra chunks inserted after IHDR (offset 33).
fn png_with(png: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    for e in extra {
        out.extend_from_slice(e);
    }
    out.extend_from_slice(&png[33..]);
    out
}

fn zlib(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let reg = Registry::new();
    let families: [(&str, &[&str]); 3] = [
        ("label_image", &["png", "jpeg", "webp", "gif", "tiff"]),
        ("label_av", &["mp4", "mp3", "wav", "flac", "ogg"]),
        ("label_doc", &["pdf", "ooxml", "markdown", "text", "html"]),
    ];
    // (handler, file name, bytes)
    let mut files: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (name, file, bytes) in samples::all() {
        let h = reg.by_name(name).unwrap();
        let w = h.write(&bytes, &label()).unwrap();
        files.push((name, file.to_string(), bytes));
        files.push((name, format!("labeled-{file}"), w));
    }
    // Foreign carriers.
    let png = samples::encode_image(image::ImageFormat::Png);
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(xmp_packet().as_bytes());
    let mut ztxt = b"AIGC\0\0".to_vec();
    ztxt.extend_from_slice(&zlib(JSON.as_bytes()));
    let mut itxtz = b"AIGC\0\x01\0\0\0".to_vec();
    itxtz.extend_from_slice(&zlib(JSON.as_bytes()));
    files.push(("png", "xmp-ztxt-itxt.png".into(), png_with(&png, &[png_chunk(b"iTXt", &itxt), png_chunk(b"zTXt", &ztxt), png_chunk(b"iTXt", &itxtz)])));
    let jpeg = samples::encode_image(image::ImageFormat::Jpeg);
    let mut app1 = vec![0xff, 0xe1];
    let body = [b"http://ns.adobe.com/xap/1.0/\0".as_slice(), xmp_packet().as_bytes()].concat();
    app1.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(&body);
    // EXIF: II TIFF, IFD0 with ExifIFD pointer, Exif IFD with UserComment (ASCII prefix).
    let uc = [b"ASCII\0\0\0".as_slice(), JSON.as_bytes()].concat();
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&0x8769u16.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&26u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    // Exif IFD at 26
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&0x9286u16.to_le_bytes());
    t.extend_from_slice(&7u16.to_le_bytes());
    t.extend_from_slice(&(uc.len() as u32).to_le_bytes());
    t.extend_from_slice(&44u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&uc);
    let exif = [b"Exif\0\0".as_slice(), &t].concat();
    let mut app1e = vec![0xff, 0xe1];
    app1e.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    app1e.extend_from_slice(&exif);
    let mut j = jpeg[..2].to_vec();
    j.extend_from_slice(&app1e);
    j.extend_from_slice(&app1);
    j.extend_from_slice(&jpeg[2..]);
    files.push(("jpeg", "exif-xmp.jpg".into(), j));
    let mut j = jpeg[..2].to_vec();
    j.extend_from_slice(&app1e);
    j.extend_from_slice(&jpeg[2..]);
    files.push(("jpeg", "exif.jpg".into(), j));
    files.push(("tiff", "exif-only.tiff".into(), t.clone()));
    files.push(("text", "first-line.txt".into(), format!("{JSON}\r\nbody\r\n{JSON}").into_bytes()));
    files.push(("markdown", "flow.md".into(), format!("\u{feff}---\r\nAIGC: {}\r\ntitle: x\r\n...\r\n# h\r\n", &JSON[8..JSON.len() - 1]).into_bytes()));
    files.push(("markdown", "scalar.md".into(), format!("---\nAIGC: '{JSON}'\nAIGC:\n  Label: \"2\"\n  ContentProducer: 'a''b'\n  ProduceID: x # c\n---\n").into_bytes()));
    files.push(("html", "meta-variants.html".into(), format!("<html><HEAD><meta name=aigc content=\"{}\" /><META NAME='AIGC' CONTENT='{JSON}'></head><body></body></html>", JSON.replace('"', "&quot;")).into_bytes()));
    files.push(("html", "no-head.html".into(), b"<!doctype html><p>x</p>".to_vec()));

    for (target, names) in families {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (h, file, bytes) in &files {
            if let Some(i) = names.iter().position(|n| n == h) {
                let mut v = vec![i as u8];
                v.extend_from_slice(bytes);
                assert!(v.len() < 20_000, "{file}: {}", v.len());
                std::fs::write(dir.join(file), v).unwrap();
            }
        }
    }
    // Registry: selector 0 (sniff only) for files with magic, the matching name otherwise.
    let dir = out.join("label_registry");
    std::fs::create_dir_all(&dir).unwrap();
    for (h, file, bytes) in &files {
        let sel: u8 = match *h {
            "markdown" => 1,
            "text" => 2,
            "html" => 3,
            _ => 0,
        };
        if file.starts_with("labeled-") && sel == 0 {
            continue; // the family targets have those
        }
        let mut v = vec![sel];
        v.extend_from_slice(bytes);
        std::fs::write(dir.join(file), v).unwrap();
    }
}
