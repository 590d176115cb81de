//! Signed checkpoints through the public API: a pinned vector, round trips and tampering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hegui_ledger::{Checkpoint, CheckpointError, MemoryTree, Signer, Verifier};

/// Seed 0x00, 0x01, ..., 0x1f. The key ID, verifier key and signature below were
/// cross-checked with OpenSSL (Ed25519 over the body) and `sha256sum` (key ID), independently
/// of this crate; the note layout is pinned against Go's sumdb/note in `src/note.rs`.
const SEED: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const NAME: &str = "example.com/hegui-test";
const SIGNER_KEY: &str =
    "PRIVATE+KEY+example.com/hegui-test+7578d17a+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
const VERIFIER_KEY: &str =
    "example.com/hegui-test+7578d17a+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
/// The tree of the eight RFC 6962 test leaves (root 5dc9da79…).
const NOTE: &str = "example.com/hegui-test\n\
                    8\n\
                    XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\
                    \n\
                    \u{2014} example.com/hegui-test dXjRenwGOkvqDvC9gIFZw9gVui55Jig8DHCPiPxJ51ss3BLEiG/esyC1H6ajnVirNYI4qOAzaU1CHWqIfprDijvbXgc=\n";

fn rfc6962_tree() -> MemoryTree {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let mut tree = MemoryTree::new();
    for d in inputs {
        tree.append_data(d).unwrap();
    }
    tree
}

#[test]
fn fixed_seed_vector_is_reproduced_byte_for_byte() {
    let signer = Signer::from_seed(NAME, SEED).unwrap();
    assert_eq!(signer.key_string(), SIGNER_KEY);
    assert_eq!(signer.verifier_string(), VERIFIER_KEY);
    assert_eq!(signer.key_id(), 0x7578_d17a);
    let tree = rfc6962_tree();
    let note = Checkpoint::new(NAME, tree.size(), tree.root())
        .sign(&signer)
        .unwrap();
    assert_eq!(note, NOTE);
}

#[test]
fn fixed_seed_vector_opens_with_the_parsed_verifier_key() {
    let verifier = Verifier::from_key_string(VERIFIER_KEY).unwrap();
    let cp = Checkpoint::open(NOTE, &verifier).unwrap();
    assert_eq!(cp.origin, NAME);
    assert_eq!(cp.size, 8);
    assert_eq!(cp.root, rfc6962_tree().root());
    assert!(cp.extensions.is_empty());
}

#[test]
fn key_strings_round_trip() {
    let signer = Signer::from_key_string(SIGNER_KEY).unwrap();
    assert_eq!(signer.key_string(), SIGNER_KEY);
    let generated = Signer::generate("log.example.cn/hegui").unwrap();
    let reparsed = Signer::from_key_string(&generated.key_string()).unwrap();
    assert_eq!(reparsed.verifier(), generated.verifier());
    let verifier = Verifier::from_key_string(&generated.verifier_string()).unwrap();
    assert_eq!(verifier.key_string(), generated.verifier_string());
    // Surrounding whitespace (a key file's trailing newline) is tolerated.
    assert!(Verifier::from_key_string(&format!("{VERIFIER_KEY}\n")).is_ok());
}

#[test]
fn generated_key_round_trip_with_extensions() {
    let signer = Signer::generate("log.example.cn/hegui").unwrap();
    let cp = Checkpoint {
        origin: "log.example.cn/hegui".to_owned(),
        size: 1_000_000,
        root: [0x5a; 32],
        extensions: vec!["timestamp 1700000000".to_owned()],
    };
    let note = cp.sign(&signer).unwrap();
    assert_eq!(Checkpoint::open(&note, &signer.verifier()).unwrap(), cp);
}

#[test]
fn one_changed_body_character_is_rejected() {
    let verifier = Verifier::from_key_string(VERIFIER_KEY).unwrap();
    for (from, to) in [
        ("\n8\n", "\n9\n"),
        ("XcnaeacG", "XcnaeacH"),
        ("example.com/", "example.cn/"),
    ] {
        let tampered = NOTE.replacen(from, to, 1);
        assert_ne!(tampered, NOTE);
        let err = Checkpoint::open(&tampered, &verifier).unwrap_err();
        assert!(
            matches!(err, CheckpointError::BadSignature { .. }),
            "{from:?} -> {to:?}: {err}"
        );
    }
}

#[test]
fn a_changed_signature_is_rejected() {
    let verifier = Verifier::from_key_string(VERIFIER_KEY).unwrap();
    let tampered = NOTE.replacen("dXjRenwGOkvq", "dXjRenwGOkvr", 1);
    assert!(matches!(
        Checkpoint::open(&tampered, &verifier),
        Err(CheckpointError::BadSignature { .. })
    ));
}

#[test]
fn a_valid_note_with_a_malformed_body_is_rejected() {
    // Signed correctly, but the body is not a checkpoint.
    let signer = Signer::from_seed(NAME, SEED).unwrap();
    let note = hegui_ledger::note::sign("only one line\n", &signer).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &signer.verifier()),
        Err(CheckpointError::BodyTooShort { lines: 1 })
    ));
    let note = hegui_ledger::note::sign("o\n007\nAAAA\n", &signer).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &signer.verifier()),
        Err(CheckpointError::BadSize { .. })
    ));
    let note = hegui_ledger::note::sign("o\n7\n%%%%\n", &signer).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &signer.verifier()),
        Err(CheckpointError::BadRootBase64 { .. })
    ));
}

#[test]
fn signatures_by_unknown_keys_are_accepted_alongside() {
    let verifier = Verifier::from_key_string(VERIFIER_KEY).unwrap();
    let witness = Signer::from_seed("witness.example/w1", [77; 32]).unwrap();
    let cosigned =
        hegui_ledger::note::sign(&NOTE[..NOTE.find("\n\n").unwrap() + 1], &witness).unwrap();
    let witness_line = cosigned.rsplit_once("\n\n").unwrap().1;
    let both = format!("{NOTE}{witness_line}");
    let cp = Checkpoint::open(&both, &verifier).unwrap();
    assert_eq!(cp.size, 8);
    // And the witness alone can open it too.
    assert_eq!(Checkpoint::open(&both, &witness.verifier()).unwrap(), cp);
}

#[test]
fn key_name_mismatch_is_reported() {
    let verifier = Verifier::from_key_string(VERIFIER_KEY).unwrap();
    let renamed = NOTE.replacen(
        "\u{2014} example.com/hegui-test ",
        "\u{2014} example.com/other ",
        1,
    );
    let err = Checkpoint::open(&renamed, &verifier).unwrap_err();
    assert!(
        matches!(err, CheckpointError::KeyNameMismatch { .. }),
        "{err}"
    );
}

#[test]
fn verifier_with_wrong_key_id_is_rejected() {
    let wrong = VERIFIER_KEY.replace("7578d17a", "7578d17b");
    assert!(matches!(
        Verifier::from_key_string(&wrong),
        Err(CheckpointError::KeyIdMismatch {
            stated: 0x7578_d17b,
            computed: 0x7578_d17a,
            ..
        })
    ));
}
