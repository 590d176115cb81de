#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The model file: round trip, and a typed error for every kind of damage.

use hegui_classifier::format::{PREAMBLE_LEN, TRAILER_LEN};
use hegui_classifier::{train, Example, LoadError, Model, TrainConfig, FORMAT_VERSION, MAGIC};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

fn model(bits: u8) -> Model {
    let data = [
        Example::new("你这个废物", "offensive"),
        Example::new("一群垃圾", "offensive"),
        Example::new("今天天气很好", "safe"),
        Example::new("谢谢你的帮助", "safe"),
    ];
    let config = TrainConfig {
        bucket_bits: bits,
        epochs: 10,
        risk_codes: [("offensive".to_owned(), "A2-9".to_owned())].into(),
        ..TrainConfig::default()
    };
    train(&data, &config).unwrap()
}

fn header_len(bytes: &[u8]) -> usize {
    u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize
}

/// Re-computes the trailer so a deliberate edit passes the checksum.
fn reseal(bytes: &mut Vec<u8>) {
    bytes.truncate(bytes.len() - TRAILER_LEN);
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
}

#[test]
fn save_then_load_gives_the_same_model_and_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.hgc");
    let m = model(16);
    m.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded, m);
    for t in ["你这个废物", "天气", "", "完全无关的句子"] {
        assert_eq!(loaded.predict(t), m.predict(t), "{t}");
    }
    // Only the model file is left behind: the temporary file was renamed.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
    // Saving the same model twice gives the same bytes.
    assert_eq!(m.to_bytes().unwrap(), loaded.to_bytes().unwrap());
}

#[test]
fn file_layout_matches_the_spec() {
    let m = model(8);
    let bytes = m.to_bytes().unwrap();
    assert_eq!(&bytes[..8], &MAGIC);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
    let h = header_len(&bytes);
    let count = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    assert_eq!(count, 256 + 1, "binary: one bias + 2^8 weights");
    assert_eq!(bytes.len(), PREAMBLE_LEN + h + 4 * count + TRAILER_LEN);
    let header: serde_json::Value = serde_json::from_slice(&bytes[24..24 + h]).unwrap();
    assert_eq!(header["features"]["bucket_bits"], 8);
    assert_eq!(header["labels"][1]["risk_code"], "A2-9");
    assert_eq!(header["kind"], "binary");
    assert_eq!(
        &bytes[bytes.len() - 32..],
        Sha256::digest(&bytes[..bytes.len() - 32]).as_slice()
    );
}

#[test]
fn truncated_weights_say_how_many_bytes_are_missing() {
    let bytes = model(8).to_bytes().unwrap();
    let h = header_len(&bytes);
    let cut = &bytes[..PREAMBLE_LEN + h + 100];
    let err = Model::from_bytes(cut).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Truncated {
                part: "weights",
                expected: 1028,
                found: 100
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "model file truncated: expected 1028 bytes of weights, found 100; re-train or copy the file again"
    );
}

#[test]
fn every_truncation_is_a_typed_error() {
    let bytes = model(8).to_bytes().unwrap();
    let h = header_len(&bytes);
    for len in 0..bytes.len() {
        let err = Model::from_bytes(&bytes[..len]).unwrap_err();
        let part = match &err {
            LoadError::Truncated { part, .. } => *part,
            other => panic!("length {len}: {other:?}"),
        };
        let want = if len < PREAMBLE_LEN {
            "preamble (magic, version, lengths)"
        } else if len < PREAMBLE_LEN + h {
            "header"
        } else if len < bytes.len() - TRAILER_LEN {
            "weights"
        } else {
            "checksum trailer"
        };
        assert_eq!(part, want, "length {len}");
    }
}

#[test]
fn wrong_magic_is_not_a_model() {
    let mut bytes = model(8).to_bytes().unwrap();
    bytes[0] = b'X';
    let err = Model::from_bytes(&bytes).unwrap_err();
    assert!(matches!(err, LoadError::NotAModel { .. }), "{err:?}");
    assert!(err.to_string().contains("not a hegui classifier model"));
    let err = Model::from_bytes(b"PK\x03\x04 a zip file").unwrap_err();
    assert!(matches!(err, LoadError::NotAModel { .. }), "{err:?}");
}

#[test]
fn other_versions_are_refused_with_advice() {
    let mut bytes = model(8).to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = Model::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("re-train"));
}

#[test]
fn flipped_bits_fail_the_checksum() {
    let bytes = model(8).to_bytes().unwrap();
    let h = header_len(&bytes);
    for at in [PREAMBLE_LEN + 3, PREAMBLE_LEN + h + 17, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        let err = Model::from_bytes(&bad).unwrap_err();
        assert!(
            matches!(err, LoadError::ChecksumMismatch { .. }),
            "byte {at}: {err:?}"
        );
        assert!(err.to_string().starts_with("model file corrupted"));
    }
}

#[test]
fn trailing_bytes_are_reported() {
    let mut bytes = model(8).to_bytes().unwrap();
    bytes.extend_from_slice(b"junk");
    let err = Model::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(err, LoadError::TrailingBytes { extra: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn a_sealed_but_inconsistent_header_is_refused() {
    let bytes = model(8).to_bytes().unwrap();
    let h = header_len(&bytes);
    let header = std::str::from_utf8(&bytes[24..24 + h]).unwrap();
    // Same length, so offsets stay valid: claim 2^9 buckets while holding 2^8.
    let edited = header.replace("\"bucket_bits\":8", "\"bucket_bits\":9");
    assert_ne!(edited, header);
    let mut bad = bytes.clone();
    bad[24..24 + h].copy_from_slice(edited.as_bytes());
    reseal(&mut bad);
    let err = Model::from_bytes(&bad).unwrap_err();
    assert!(matches!(err, LoadError::Inconsistent { .. }), "{err:?}");
    assert!(err.to_string().contains("weights"), "{err}");

    let edited = header.replace("\"A2-9\"", "\"Z9-9\"");
    let mut bad = bytes.clone();
    bad[24..24 + h].copy_from_slice(edited.as_bytes());
    reseal(&mut bad);
    let err = Model::from_bytes(&bad).unwrap_err();
    assert!(err.to_string().contains("Z9-9"), "{err}");

    let mut bad = bytes.clone();
    bad[24] = b'[';
    reseal(&mut bad);
    assert!(matches!(
        Model::from_bytes(&bad).unwrap_err(),
        LoadError::BadHeader { .. }
    ));
}

#[test]
fn non_finite_weights_are_refused() {
    let mut bytes = model(8).to_bytes().unwrap();
    let at = PREAMBLE_LEN + header_len(&bytes) + 8;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut bytes);
    let err = Model::from_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("not a finite number"), "{err}");
}

#[test]
fn random_damage_never_panics() {
    let bytes = model(8).to_bytes().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for _ in 0..2000 {
        let mut bad = bytes.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.gen();
        }
        if rng.gen_bool(0.3) {
            bad.truncate(rng.gen_range(0..bad.len()));
        }
        // Any outcome but a panic is fine; a surviving model must still predict.
        if let Ok(m) = Model::from_bytes(&bad) {
            let _ = m.predict("测试");
        }
    }
    let garbage: Vec<u8> = (0..5000).map(|_| rng.gen()).collect();
    assert!(Model::from_bytes(&garbage).is_err());
}

#[test]
fn io_errors_name_the_path() {
    let err = Model::load("/nonexistent/dir/m.hgc").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/dir/m.hgc"), "{err}");
    let err = model(8).save("/nonexistent/dir/m.hgc").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/dir/m.hgc"), "{err}");
}

#[test]
fn an_empty_file_is_truncated_not_foreign() {
    let err = Model::from_bytes(&[]).unwrap_err();
    assert!(
        matches!(err, LoadError::Truncated { found: 0, .. }),
        "{err:?}"
    );
    let err = Model::from_bytes(b"HEGUI").unwrap_err();
    assert!(
        matches!(err, LoadError::Truncated { found: 5, .. }),
        "{err:?}"
    );
}
