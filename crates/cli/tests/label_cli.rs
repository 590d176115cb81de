//! `hegui label` on real files: keygen, add (producer and propagator), inspect (with the
//! watermark), verify (exit codes), strip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");

/// `hegui label ARGS` in `dir`, without `HEGUI_WATERMARK_KEY` from the test's environment.
fn hegui(dir: &Path, args: &[&str]) -> (bool, Value, String) {
    hegui_with_watermark_env(dir, args, None)
}

/// [`hegui`] with `HEGUI_WATERMARK_KEY` set to `key`, or unset for `None`.
fn hegui_with_watermark_env(dir: &Path, args: &[&str], key: Option<&str>) -> (bool, Value, String) {
    let mut cmd = Command::new(HEGUI);
    cmd.current_dir(dir).env_remove("HEGUI_WATERMARK_KEY");
    if let Some(k) = key {
        cmd.env("HEGUI_WATERMARK_KEY", k);
    }
    let out = cmd.arg("label").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `img` written to `dir/name` as a PNG carrying an ICC profile; returns the file's bytes.
fn png_with_icc(dir: &Path, name: &str, img: &image::RgbImage) -> Vec<u8> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut bytes);
    enc.set_icc_profile(vec![7u8; 300]).unwrap();
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(dir.join(name), &bytes).unwrap();
    bytes
}

fn png(dir: &Path, name: &str, img: &image::RgbImage) -> String {
    img.save_with_format(dir.join(name), image::ImageFormat::Png)
        .unwrap();
    name.to_string()
}

/// A pixel of smooth shapes, like a generated picture, for the watermark tests (`textured`'s
/// sawtooth hides the watermark at some sizes: crates/watermark/README.md, "Known limitation").
fn smooth(x: u32, y: u32) -> [u8; 3] {
    let (x, y) = (x as f32, y as f32);
    [
        (128.0 + 60.0 * (x / 23.0).sin() + 40.0 * (y / 17.0).cos()) as u8,
        (110.0 + 80.0 * ((x + y) / 41.0).sin()) as u8,
        (140.0 + 50.0 * ((x - 2.0 * y) / 29.0).cos()) as u8,
    ]
}

fn textured(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 13) % 200) as u8 + 20;
        image::Rgb([
            v,
            v.wrapping_add((x % 17) as u8),
            v.wrapping_sub((y % 11) as u8),
        ])
    })
}

#[test]
fn keygen_add_inspect_verify_strip_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (ok, k, err) = hegui(dir, &["keygen", "--out", "producer.key", "--json"]);
    assert!(ok, "{err}");
    let public = k["public_key"].as_str().unwrap().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("producer.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let f = png(dir, "a.png", &textured(64, 48));
    let (ok, added, err) = hegui(
        dir,
        &[
            "add",
            &f,
            "--producer",
            "001191440300708461136T1XGW3",
            "--key",
            "producer.key",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(added["carrier"], "png:tEXt:AIGC");
    let id = added["label"]["ProduceID"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert!(added["label"]["ReservedCode1"]
        .as_str()
        .unwrap()
        .starts_with("ed25519:"));

    let (ok, ins, _) = hegui(dir, &["inspect", &f, "--json"]);
    assert!(ok);
    assert_eq!(ins["labels"].as_array().unwrap().len(), 1);
    assert_eq!(ins["agree"], true);
    assert_eq!(ins["labels"][0]["label"], added["label"]);
    // The signature names BLAKE3 and binds the digest inspect reports (`LABELS.md`); no
    // signature names SHA-256, so none is reported.
    let rc1 = added["label"]["ReservedCode1"].as_str().unwrap();
    let fields: Vec<&str> = rc1.split(':').collect();
    assert_eq!((fields.len(), fields[2]), (5, "blake3"), "{rc1}");
    assert_eq!(ins["content_digest"]["blake3"], fields[3]);
    assert!(ins["content_digest"].get("sha256").is_none(), "{ins}");

    let (ok, v, _) = hegui(dir, &["verify", &f, "--public-key", &public, "--json"]);
    assert!(ok);
    assert_eq!(v["verdict"], "intact");
    // The key file itself is accepted as --public-key too.
    assert!(hegui(dir, &["verify", &f, "--public-key", "producer.key"]).0);

    let (ok, _, _) = hegui(dir, &["keygen", "--out", "other.key"]);
    assert!(ok);
    let (ok, v, _) = hegui(dir, &["verify", &f, "--public-key", "other.key", "--json"]);
    assert!(!ok, "an unknown key is not intact");
    assert_eq!(v["verdict"], "unknown_key");

    // Propagator mode keeps the producer's signature and adds its own.
    assert!(hegui(dir, &["keygen", "--out", "platform.key"]).0);
    let (ok, p, err) = hegui(
        dir,
        &[
            "add",
            &f,
            "--propagator",
            "PLATFORM01",
            "--propagate-id",
            "post-9",
            "--key",
            "platform.key",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(p["label"]["ReservedCode1"], added["label"]["ReservedCode1"]);
    let (ok, v, err) = hegui(
        dir,
        &[
            "verify",
            &f,
            "--public-key",
            "producer.key",
            "--public-key",
            "platform.key",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        (v["verdict"].as_str(), v["propagator_verdict"].as_str()),
        (Some("intact"), Some("intact"))
    );

    let (ok, s, _) = hegui(dir, &["strip", &f, "--json"]);
    assert!(ok);
    assert_eq!(s["removed"], 1);
    let (_, ins, _) = hegui(dir, &["inspect", &f, "--json"]);
    assert!(ins["labels"].as_array().unwrap().is_empty());
    let (ok, v, _) = hegui(dir, &["verify", &f, "--public-key", &public, "--json"]);
    assert!(!ok);
    assert_eq!(v["verdict"], "unlabeled");
    // The pixels are the ones written at the start.
    assert_eq!(
        image::open(dir.join(&f)).unwrap().to_rgb8(),
        textured(64, 48)
    );
}

#[test]
fn an_edited_text_is_content_altered_and_a_forged_field_label_altered() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    assert!(hegui(dir, &["keygen", "--out", "k"]).0);
    std::fs::write(dir.join("a.txt"), "生成的回答。\n").unwrap();
    assert!(hegui(dir, &["add", "a.txt", "--producer", "P1", "--key", "k"]).0);
    let labeled = std::fs::read_to_string(dir.join("a.txt")).unwrap();
    std::fs::write(dir.join("a.txt"), labeled.replace("回答", "答复")).unwrap();
    let (ok, v, _) = hegui(dir, &["verify", "a.txt", "--public-key", "k", "--json"]);
    assert!(!ok);
    assert_eq!(v["verdict"], "content_altered");
    std::fs::write(
        dir.join("b.txt"),
        labeled.replace("\"ContentProducer\":\"P1\"", "\"ContentProducer\":\"P2\""),
    )
    .unwrap();
    let (ok, v, _) = hegui(dir, &["verify", "b.txt", "--public-key", "k", "--json"]);
    assert!(!ok);
    assert_eq!(v["verdict"], "label_altered");
}

#[test]
fn inspect_reports_disagreeing_carriers_and_the_watermark() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let produce_id = "0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11";
    let secret = b"watermark secret for tests";
    std::fs::write(dir.join("wm.key"), secret).unwrap();
    let key = hegui_watermark::WatermarkKey::from_secret(secret);
    let marked = hegui_watermark::embed(
        &textured(320, 240),
        &key,
        hegui_watermark::payload_from_produce_id(produce_id),
        hegui_watermark::Strength::Normal,
    )
    .unwrap();
    let f = png(dir, "w.png", &marked);
    assert!(
        hegui(
            dir,
            &["add", &f, "--producer", "P1", "--produce-id", produce_id]
        )
        .0
    );
    let (ok, ins, err) = hegui(
        dir,
        &["inspect", &f, "--watermark-key-file", "wm.key", "--json"],
    );
    assert!(ok, "{err}");
    assert_eq!(ins["watermark"]["detected"], true, "{ins}");
    assert_eq!(ins["watermark"]["matches_label_in"][0], "png:tEXt:AIGC");

    // A second, different label in a foreign carrier (XMP) disagrees with the canonical one.
    let bytes = std::fs::read(dir.join(&f)).unwrap();
    let xmp = format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:TC260=\"{}\"><TC260:AIGC>{{\"AIGC\":{{\"Label\":\"1\",\"ContentProducer\":\"OTHER\",\"ProduceID\":\"x\"}}}}</TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>",
        hegui_label::XMP_NAMESPACE
    );
    let mut data = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    data.extend_from_slice(xmp.as_bytes());
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"iTXt");
    chunk.extend_from_slice(&data);
    let mut crc_in = b"iTXt".to_vec();
    crc_in.extend_from_slice(&data);
    chunk.extend_from_slice(&crc32(&crc_in).to_be_bytes());
    let mut two = bytes[..33].to_vec(); // signature + IHDR
    two.extend_from_slice(&chunk);
    two.extend_from_slice(&bytes[33..]);
    std::fs::write(dir.join("two.png"), &two).unwrap();
    let (ok, ins, _) = hegui(dir, &["inspect", "two.png", "--json"]);
    assert!(ok);
    assert_eq!(ins["labels"].as_array().unwrap().len(), 2);
    assert_eq!(ins["agree"], false);
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn a_file_that_cannot_be_labeled_is_left_untouched() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let broken = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR truncated".to_vec();
    std::fs::write(dir.join("b.png"), &broken).unwrap();
    let (ok, _, err) = hegui(dir, &["add", "b.png", "--producer", "P1"]);
    assert!(!ok);
    assert!(err.contains("PNG:"), "{err}");
    assert_eq!(std::fs::read(dir.join("b.png")).unwrap(), broken);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn explicit_then_implicit_labels_on_an_image_and_a_wav() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let original = textured(640, 360);
    let name = png(dir, "gen.png", &original);
    let (ok, v, err) = hegui(dir, &["explicit", &name, "--corner", "top-left", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(v["kind"], "image");
    // Where the plate went, as numbers: at the top left, text at least the required height
    // (5% of the shorter side).
    let layout = &v["layout"];
    assert!(layout["x"].as_u64().unwrap() < 40, "{layout}");
    assert!(layout["y"].as_u64().unwrap() < 40, "{layout}");
    assert_eq!(layout["required_px"], 18, "{layout}");
    assert!(layout["cap_height_px"].as_u64().unwrap() >= 18, "{layout}");
    let labeled = image::open(dir.join(&name)).unwrap().to_rgb8();
    assert_eq!(labeled.dimensions(), (640, 360));
    // The label is in the top-left corner; the opposite corner is untouched.
    let differs = |x0: u32, y0: u32| {
        (x0..x0 + 20)
            .flat_map(|x| (y0..y0 + 10).map(move |y| (x, y)))
            .filter(|&(x, y)| labeled.get_pixel(x, y) != original.get_pixel(x, y))
            .count()
    };
    assert!(differs(12, 12) > 50, "label drawn at the top left");
    assert_eq!(differs(600, 340), 0, "bottom right untouched");
    // Then the implicit label, which reads back.
    let (ok, _, err) = hegui(dir, &["add", &name, "--producer", "P1", "--json"]);
    assert!(ok, "{err}");
    let (ok, v, _) = hegui(dir, &["inspect", &name, "--json"]);
    assert!(ok);
    assert_eq!(v["labels"].as_array().unwrap().len(), 1);

    // A WAV gets the cue at both ends, found by the detector.
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join("speech.wav"), spec).unwrap();
    for i in 0..32_000 {
        w.write_sample(((i as f32 * 0.05).sin() * 3000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let (ok, _, err) = hegui(dir, &["explicit", "speech.wav", "--json"]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(dir.join("speech.wav")).unwrap();
    let decoded = hegui_explicit::decode_wav(&bytes).unwrap();
    let found = hegui_explicit::detect_cue(&decoded.samples, decoded.sample_rate, decoded.channels);
    assert!(found.at_start() && found.at_end(), "{found:?}");
    let (ok, v, _) = hegui(dir, &["inspect", "speech.wav", "--json"]);
    assert!(ok);
    assert_eq!(
        v["audio_cue"],
        serde_json::json!({"at_start": true, "at_end": true})
    );

    // Text and unknown kinds are refused with a message saying what is supported.
    std::fs::write(dir.join("a.txt"), "x").unwrap();
    let (ok, _, err) = hegui(dir, &["explicit", "a.txt"]);
    assert!(!ok);
    assert!(err.contains("explicit labels are for images"), "{err}");
    // Wording without an AI element is refused.
    let (ok, _, err) = hegui(dir, &["explicit", &name, "--wording", "生成"]);
    assert!(!ok, "{err}");
}

#[test]
fn a_missing_file_is_named_once_with_its_cause_once() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        &["add", "missing.png", "--producer", "P1"][..],
        &["inspect", "missing.png"][..],
    ] {
        let (ok, _, err) = hegui(d.path(), args);
        assert!(!ok);
        assert_eq!(err.matches("missing.png").count(), 1, "{err}");
        assert_eq!(err.matches("No such file").count(), 1, "{err}");
    }
}

#[test]
fn watermark_then_label_then_inspect_finds_both_and_they_agree() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let original = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb(smooth(x, y)));
    let f = png(dir, "gen.png", &original);
    original
        .save_with_format(dir.join("gen.jpg"), image::ImageFormat::Jpeg)
        .unwrap();
    for name in [f.as_str(), "gen.jpg"] {
        // No key file yet: one is made (mode 0600) and used.
        let (ok, v, err) = hegui(dir, &["watermark", name, "--key-file", "wm.key", "--json"]);
        assert!(ok, "{err}");
        let produce_id = v["produce_id"].as_str().unwrap().to_string();
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(400), Some(300))
        );
        let marked = image::open(dir.join(name)).unwrap().to_rgb8();
        assert_eq!(marked.dimensions(), (400, 300));
        let (ok, _, err) = hegui(
            dir,
            &["add", name, "--producer", "P1", "--produce-id", &produce_id],
        );
        assert!(ok, "{err}");
        let (ok, ins, err) = hegui(
            dir,
            &["inspect", name, "--watermark-key-file", "wm.key", "--json"],
        );
        assert!(ok, "{err}");
        assert_eq!(ins["watermark"]["detected"], true, "{ins}");
        assert_eq!(ins["watermark"]["payload"], v["payload"], "{ins}");
        assert_eq!(
            ins["watermark"]["matches_label_in"][0], ins["canonical_carrier"],
            "{ins}"
        );
        // A labeled file is refused: re-encoding would drop its label.
        let (ok, _, err) = hegui(dir, &["watermark", name, "--key-file", "wm.key"]);
        assert!(!ok);
        assert!(err.contains("already carries an implicit label"), "{err}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("wm.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The unwatermarked original has no watermark under that key.
    let plain = png(dir, "plain.png", &original);
    let (ok, ins, err) = hegui(
        dir,
        &[
            "inspect",
            &plain,
            "--watermark-key-file",
            "wm.key",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(ins["watermark"]["detected"], false, "{ins}");
    // Not an image, or a change of format: a clear refusal.
    std::fs::write(dir.join("a.txt"), "text").unwrap();
    let (ok, _, err) = hegui(dir, &["watermark", "a.txt", "--key-file", "wm.key"]);
    assert!(!ok && err.contains("the watermark is for images"), "{err}");
    let (ok, _, err) = hegui(
        dir,
        &[
            "watermark",
            &plain,
            "--key-file",
            "wm.key",
            "--out",
            "x.jpg",
        ],
    );
    assert!(!ok && err.contains("must keep the input's format"), "{err}");
}

#[test]
fn an_explicit_label_on_a_jpeg_keeps_the_rest_of_the_picture() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let original = image::RgbImage::from_fn(480, 320, |x, y| {
        let (x, y) = (x as f32, y as f32);
        image::Rgb([
            (128.0 + 90.0 * (x / 19.0).sin() * (y / 31.0).cos()) as u8,
            (120.0 + 70.0 * ((x + 2.0 * y) / 13.0).sin()) as u8,
            (130.0 + 60.0 * ((3.0 * x - y) / 23.0).cos()) as u8,
        ])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&original)
        .unwrap();
    std::fs::write(dir.join("gen.jpg"), jpeg.get_ref()).unwrap();
    let before = image::open(dir.join("gen.jpg")).unwrap().to_rgb8();
    let (ok, _, err) = hegui(dir, &["explicit", "gen.jpg", "--corner", "bottom-right"]);
    assert!(ok, "{err}");
    let after = image::open(dir.join("gen.jpg")).unwrap().to_rgb8();
    // The top-left quarter, far from the label: re-encoding moves it by little (0.45 per
    // channel at quality 95, 1.65 at the `image` crate's default 75).
    let (mut sum, mut n) = (0u64, 0u64);
    for y in 0..160 {
        for x in 0..240 {
            for c in 0..3 {
                sum += u64::from(before.get_pixel(x, y).0[c].abs_diff(after.get_pixel(x, y).0[c]));
                n += 1;
            }
        }
    }
    let mean = sum as f64 / n as f64;
    eprintln!("mean absolute difference away from the label: {mean:.3}");
    assert!(
        mean < 1.5,
        "re-encoding changed the picture by {mean:.3} per channel"
    );
}

#[test]
fn watermark_keeps_alpha_and_refuses_what_re_encoding_would_lose() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // RGBA: the alpha channel comes back as it was, and the watermark is found.
    let rgba = image::RgbaImage::from_fn(400, 300, |x, y| {
        let [r, g, b] = smooth(x, y);
        image::Rgba([r, g, b, (x % 256) as u8])
    });
    rgba.save(dir.join("a.png")).unwrap();
    let (ok, v, err) = hegui(
        dir,
        &["watermark", "a.png", "--key-file", "wm.key", "--json"],
    );
    assert!(ok, "{err}");
    let back = image::open(dir.join("a.png")).unwrap().to_rgba8();
    assert!(back
        .pixels()
        .zip(rgba.pixels())
        .all(|(a, b)| a.0[3] == b.0[3]));
    let (ok, ins, err) = hegui(
        dir,
        &[
            "inspect",
            "a.png",
            "--watermark-key-file",
            "wm.key",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(ins["watermark"]["payload"], v["payload"], "{ins}");

    // A colour profile would be dropped: refused in place, allowed into a copy.
    let rgb = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb(smooth(x, y)));
    let with_icc = png_with_icc(dir, "icc.png", &rgb);
    let (ok, _, err) = hegui(dir, &["watermark", "icc.png", "--key-file", "wm.key"]);
    assert!(
        !ok && err.contains("ICC colour profile") && err.contains("--out"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("icc.png")).unwrap(), with_icc);
    let (ok, _, err) = hegui(
        dir,
        &[
            "watermark",
            "icc.png",
            "--key-file",
            "wm.key",
            "--out",
            "icc-wm.png",
        ],
    );
    assert!(
        ok && err.contains("written without the input's ICC colour profile"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.join("icc.png")).unwrap(),
        with_icc,
        "input kept"
    );
    assert!(dir.join("icc-wm.png").exists());

    // Sixteen bits per channel cannot be kept at all: refused, the file untouched.
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 1000) as u16, (y * 1000) as u16, 500])
    });
    deep.save(dir.join("deep.png")).unwrap();
    let before = std::fs::read(dir.join("deep.png")).unwrap();
    let (ok, _, err) = hegui(
        dir,
        &[
            "watermark",
            "deep.png",
            "--key-file",
            "wm.key",
            "--out",
            "d2.png",
        ],
    );
    assert!(!ok && err.contains("more than 8 bits per channel"), "{err}");
    assert_eq!(std::fs::read(dir.join("deep.png")).unwrap(), before);
    assert!(!dir.join("d2.png").exists());
}

#[test]
fn the_watermark_key_comes_from_the_key_file_not_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let img = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb(smooth(x, y)));
    let f = png(dir, "g.png", &img);
    std::fs::write(dir.join("wm.key"), "a secret of more than sixteen bytes").unwrap();
    let run = |args: &[&str]| {
        hegui_with_watermark_env(dir, args, Some("another secret, the gateway's own"))
    };
    let (ok, _, err) = run(&["watermark", &f, "--key-file", "wm.key"]);
    assert!(ok, "{err}");
    let (ok, ins, err) = hegui(
        dir,
        &["inspect", &f, "--watermark-key-file", "wm.key", "--json"],
    );
    assert!(ok, "{err}");
    assert_eq!(ins["watermark"]["detected"], true, "{ins}");
    // A key file that does not exist is not made up from the environment.
    let (ok, _, err) = run(&["watermark", &f, "--key-file", "none.key", "--out", "x.png"]);
    assert!(!ok);
    assert!(err.contains("HEGUI_WATERMARK_KEY is set"), "{err}");
    assert!(!dir.join("none.key").exists());
}

#[test]
fn an_explicit_label_refuses_what_re_encoding_would_lose() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let img = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb(smooth(x, y)));
    // An implicit label would be dropped with the re-encoding: refused, file untouched.
    let f = png(dir, "l.png", &img);
    assert!(hegui(dir, &["add", &f, "--producer", "P1"]).0);
    let labeled = std::fs::read(dir.join(&f)).unwrap();
    let (ok, _, err) = hegui(dir, &["explicit", &f]);
    assert!(
        !ok && err.contains("already carries an implicit label"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join(&f)).unwrap(), labeled);
    // A colour profile: refused in place, a copy with --out says what it lacks.
    let with_icc = png_with_icc(dir, "icc.png", &img);
    let (ok, _, err) = hegui(dir, &["explicit", "icc.png"]);
    assert!(!ok && err.contains("ICC colour profile"), "{err}");
    assert_eq!(std::fs::read(dir.join("icc.png")).unwrap(), with_icc);
    let (ok, _, err) = hegui(dir, &["explicit", "icc.png", "--out", "icc-l.png"]);
    assert!(
        ok && err.contains("written without the input's ICC colour profile"),
        "{err}"
    );
    assert!(dir.join("icc-l.png").exists());
}
