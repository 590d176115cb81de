//! Real sample files for every format: images from the `image` crate's encoders, WAV from
//! `hound`, PDF from `lopdf`, OOXML from `zip`, audio/video fixtures made by ffmpeg.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};

/// (handler name, file name, bytes)
pub type Sample = (&'static str, &'static str, Vec<u8>);

fn image_rgb() -> image::RgbImage {
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, ((x + y) * 3) as u8])
    })
}

pub fn encode_image(format: image::ImageFormat) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let img = match format {
        image::ImageFormat::Gif | image::ImageFormat::WebP => {
            image::DynamicImage::ImageRgba8(image::DynamicImage::ImageRgb8(image_rgb()).to_rgba8())
        }
        _ => image::DynamicImage::ImageRgb8(image_rgb()),
    };
    img.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

pub fn wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for i in 0..4000 {
            let s =
                ((i as f32 * 440.0 * 2.0 * std::f32::consts::PI / 8000.0).sin() * 8000.0) as i16;
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }
    buf.into_inner()
}

pub fn pdf() -> Vec<u8> {
    use lopdf::{dictionary, Stream};
    one_page_pdf(
        Stream::new(
            dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8},
            vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255],
        ),
        b"q 100 0 0 100 0 0 cm /Im0 Do Q".to_vec(),
        None,
    )
}

/// A PDF whose streams are longer than what a light load keeps (64 KiB): a 96 KiB image, a
/// page content stream of 80 KiB whose `/Length` is an indirect object, and a 70 KiB XMP
/// metadata stream.
pub fn pdf_long() -> Vec<u8> {
    use lopdf::{dictionary, Stream};
    let pixels: Vec<u8> = (0..128 * 256 * 3u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let img = Stream::new(
        dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => 128, "Height" => 256,
        "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8},
        pixels,
    );
    let mut ops = b"q 100 0 0 100 0 0 cm /Im0 Do Q\n".repeat(80 * 1024 / 31);
    ops.extend_from_slice(b"% end\n");
    let mut xmp = br#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>application/pdf</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>"#.to_vec();
    xmp.resize(xmp.len() + 70 * 1024, b' ');
    xmp.extend_from_slice(br#"<?xpacket end="w"?>"#);
    one_page_pdf(img, ops, Some(xmp))
}

/// A one-page PDF showing the image `img` through the page content `ops`, with the XMP
/// metadata packet `xmp` if any. With XMP, the page content's `/Length` is an indirect object.
fn one_page_pdf(img: lopdf::Stream, ops: Vec<u8>, xmp: Option<Vec<u8>>) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let img_id = doc.add_object(img);
    let mut content = Stream::new(dictionary! {}, ops);
    if xmp.is_some() {
        let len_id = doc.add_object(Object::Integer(content.content.len() as i64));
        content.dict.set("Length", Object::Reference(len_id));
    }
    let content_id = doc.add_object(content);
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "Resources" => dictionary! {"XObject" => dictionary! {"Im0" => img_id}},
        "MediaBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1},
        ),
    );
    let mut catalog = dictionary! {"Type" => "Catalog", "Pages" => pages_id};
    if let Some(x) = xmp {
        let xmp_id = doc.add_object(Stream::new(
            dictionary! {"Type" => "Metadata", "Subtype" => "XML"},
            x,
        ));
        catalog.set("Metadata", xmp_id);
    }
    let catalog_id = doc.add_object(catalog);
    let info_id = doc.add_object(dictionary! {"Producer" => Object::string_literal("hegui tests")});
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

pub fn docx() -> Vec<u8> {
    let parts: [(&str, &str); 4] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>本内容由人工智能生成。</w:t></w:r></w:p></w:body></w:document>"#,
        ),
        (
            "docProps/core.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>sample</dc:title></cp:coreProperties>"#,
        ),
    ];
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in parts {
        w.start_file(name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub const MARKDOWN: &str =
    "---\ntitle: 示例\ntags: [a, b]\n---\n# 标题\n\n正文，由人工智能生成。\n";
pub const TEXT: &str = "第一行\n本内容由人工智能生成。\n";
pub const HTML: &str = "<!DOCTYPE html>\n<html lang=\"zh\">\n<head>\n<meta charset=\"utf-8\">\n<title>示例</title>\n</head>\n<body><p>AI生成</p></body>\n</html>\n";

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every sample.
pub fn all() -> Vec<Sample> {
    vec![
        ("png", "sample.png", encode_image(image::ImageFormat::Png)),
        ("jpeg", "sample.jpg", encode_image(image::ImageFormat::Jpeg)),
        (
            "webp",
            "sample.webp",
            encode_image(image::ImageFormat::WebP),
        ),
        ("gif", "sample.gif", encode_image(image::ImageFormat::Gif)),
        (
            "tiff",
            "sample.tiff",
            encode_image(image::ImageFormat::Tiff),
        ),
        ("mp4", "sample.mp4", fixture("sample.mp4")),
        ("mp4", "sample.mov", fixture("sample.mov")),
        ("mp3", "sample.mp3", fixture("sample.mp3")),
        ("wav", "sample.wav", wav()),
        ("flac", "sample.flac", fixture("sample.flac")),
        ("ogg", "sample.ogg", fixture("sample.ogg")),
        ("ogg", "sample.opus", fixture("sample.opus")),
        ("pdf", "sample.pdf", pdf()),
        ("pdf", "sample-long-streams.pdf", pdf_long()),
        ("ooxml", "sample.docx", docx()),
        ("markdown", "sample.md", MARKDOWN.as_bytes().to_vec()),
        ("text", "sample.txt", TEXT.as_bytes().to_vec()),
        ("html", "sample.html", HTML.as_bytes().to_vec()),
    ]
}
