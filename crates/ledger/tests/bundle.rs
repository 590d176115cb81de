//! Proof bundles through the public API, and the example in BUNDLE.md kept true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use hegui_ledger::{
    inclusion_proof, leaf_hash, Bundle, BundleError, Checkpoint, MemoryTree, Signer, Verifier,
};

const TRUSTED: &str =
    "example.com/hegui-test+7578d17a+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

fn doc_example() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("BUNDLE.md")).unwrap();
    let start = doc.find("```json\n").expect("BUNDLE.md has a json example") + "```json\n".len();
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

/// Builds the documented example from scratch.
fn build_example() -> Bundle {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let signer = Signer::from_seed("example.com/hegui-test", seed).unwrap();
    let mut tree = MemoryTree::new();
    for i in 0..5 {
        tree.append_data(format!("example leaf {i}").as_bytes())
            .unwrap();
    }
    let proof = inclusion_proof(&tree, 2, 5).unwrap();
    let note = Checkpoint::new("example.com/hegui-test", 5, tree.root())
        .sign(&signer)
        .unwrap();
    Bundle::new(2, 5, b"example leaf 2", &proof, note, &signer.verifier())
}

#[test]
fn documented_example_verifies() {
    let trusted = Verifier::from_key_string(TRUSTED).unwrap();
    let bundle = Bundle::from_json(&doc_example()).unwrap();
    let v = bundle.verify(&trusted).unwrap();
    assert_eq!(v.leaf_index, 2);
    assert_eq!(v.leaf_data, b"example leaf 2");
    assert_eq!(v.leaf_hash, leaf_hash(b"example leaf 2"));
    assert_eq!(v.checkpoint.origin, "example.com/hegui-test");
    assert_eq!(v.checkpoint.size, 5);
    assert_eq!(v.record, None);
    assert_eq!(v.salt, None);
}

#[test]
fn documented_example_is_what_the_code_produces() {
    let built = build_example();
    assert_eq!(Bundle::from_json(&doc_example()).unwrap(), built);
    assert_eq!(built.to_json().unwrap().trim(), doc_example().trim());
}

#[test]
fn tampered_json_is_rejected() {
    let trusted = Verifier::from_key_string(TRUSTED).unwrap();
    let json = doc_example();
    let cases = [
        // another leaf
        json.replace("ZXhhbXBsZSBsZWFmIDI=", "ZXhhbXBsZSBsZWFmIDM="),
        // another index
        json.replace("\"leaf_index\": 2", "\"leaf_index\": 3"),
        // size differs from the checkpoint
        json.replace("\"tree_size\": 5", "\"tree_size\": 6"),
        // one proof digit
        json.replace("8675d0f3", "8675d0f4"),
        // checkpoint root
        json.replace("OGwb4e0Z", "OGwb4e0a"),
        // format
        json.replace("hegui-proof-bundle/1", "hegui-proof-bundle/2"),
        // unknown field
        json.replacen('{', "{\n  \"note\": \"x\",", 1),
        // missing field
        json.replace("\"leaf_index\": 2,", ""),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert_ne!(case, &json, "case {i} changed nothing");
        let result = Bundle::from_json(case).and_then(|b| b.verify(&trusted));
        assert!(result.is_err(), "case {i} accepted");
    }
}

#[test]
fn record_and_salt_travel_with_the_bundle() {
    let trusted = Verifier::from_key_string(TRUSTED).unwrap();
    let bundle = build_example()
        .with_record(serde_json::json!({"id": "0190f0a0-0000-7000-8000-000000000000", "v": 1}))
        .with_salt(&[0x11; 16]);
    let json = bundle.to_json().unwrap();
    let v = Bundle::from_json(&json).unwrap().verify(&trusted).unwrap();
    assert_eq!(v.salt, Some(vec![0x11; 16]));
    assert_eq!(v.record.unwrap()["v"], 1);
}

#[test]
fn verifying_under_another_trusted_key_fails() {
    let other = Signer::generate("example.com/hegui-test").unwrap();
    let err = build_example().verify(&other.verifier()).unwrap_err();
    assert!(matches!(err, BundleError::UntrustedKey { .. }), "{err}");
}
