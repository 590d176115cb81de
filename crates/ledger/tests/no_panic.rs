//! Every parser and verifier of outside data returns an error instead of panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hegui_ledger::{verify_consistency, verify_inclusion, Bundle, Checkpoint, Signer, Verifier};
use proptest::prelude::*;

fn verifier() -> Verifier {
    Signer::from_seed("example.com/log", [1; 32])
        .unwrap()
        .verifier()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
    ) {
        let _ = verify_inclusion(&a, index, size, &proof, &b);
        let _ = verify_consistency(index, size, &a, &b, &proof);
        let _ = verify_consistency(index.min(size), size, &a, &b, &proof);
    }

    #[test]
    fn note_and_checkpoint_parsers_never_panic(text in "(?s)\\PC{0,200}", noise in ".{0,40}") {
        let v = verifier();
        let _ = Checkpoint::open(&text, &v);
        let _ = Checkpoint::parse_body(&text);
        let _ = hegui_ledger::note::open(&text, &v);
        // Near-valid notes: a real body and a mangled signature block.
        let near = format!("o\n1\n{}\n\n\u{2014} example.com/log {noise}\n", "A".repeat(43) + "=");
        let _ = Checkpoint::open(&near, &v);
    }

    #[test]
    fn key_string_parsers_never_panic(s in "\\PC{0,120}") {
        let _ = Verifier::from_key_string(&s);
        let _ = Signer::from_key_string(&s);
        let _ = Verifier::from_key_string(&format!("name+{s}"));
        let _ = Signer::from_key_string(&format!("PRIVATE+KEY+name+{s}"));
    }

    #[test]
    fn bundle_parser_and_verifier_never_panic(
        json in "\\PC{0,200}",
        leaf_index in any::<u64>(),
        tree_size in any::<u64>(),
        proof in proptest::collection::vec("[0-9a-fA-Fx]{0,70}", 0..10),
        leaf in "[A-Za-z0-9+/=]{0,20}",
    ) {
        let v = verifier();
        if let Ok(b) = Bundle::from_json(&json) {
            let _ = b.verify(&v);
        }
        let signer = Signer::from_seed("example.com/log", [1; 32]).unwrap();
        let note = Checkpoint::new("example.com/log", tree_size, [0; 32]).sign(&signer).unwrap();
        let mut b = Bundle::new(leaf_index, tree_size, b"x", &[], note, &v);
        b.inclusion_proof = proof;
        b.leaf_data_b64 = leaf;
        let _ = b.verify(&v);
    }
}
