//! The checks every `label_*` target runs on one input for one handler (see fuzz/README.md).
//!
//! For any bytes: `read`, `content_digest`, `remove`, `write` of a fixed valid label,
//! `label_bytes` with a key and `verify_all` never panic. Then the crate's invariants
//! (crates/label/src/handler.rs, LABELS.md):
//! - `write` succeeding: reading the result gives exactly one label, equal to the one written,
//!   in the canonical carrier; the content digest is unchanged (when the input has one);
//!   labeling with a key then verifies `Intact`, and the overlapped signed path (used for
//!   large files) gives the same bytes.
//! - `remove` succeeding: the result reads as no label, and has the input's content digest;
//!   and on a file the handler labeled it succeeds.

use std::sync::OnceLock;

use hegui_label::{label_bytes, label_bytes_from, verify_all, FormatHandler, LabelPublicKey, LabelSigningKey, Verdict};
use hegui_types::AigcLabel;

pub fn label() -> &'static AigcLabel {
    static L: OnceLock<AigcLabel> = OnceLock::new();
    L.get_or_init(|| AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: "0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11".into(),
        reserved_code1: None,
        content_propagator: Some("PLATFORM01".into()),
        propagate_id: Some("post-1".into()),
        reserved_code2: None,
    })
}

fn key() -> &'static (LabelSigningKey, Vec<LabelPublicKey>) {
    static K: OnceLock<(LabelSigningKey, Vec<LabelPublicKey>)> = OnceLock::new();
    K.get_or_init(|| {
        let k = LabelSigningKey::from_secret([42; 32]);
        let p = vec![k.public()];
        (k, p)
    })
}

fn hex8(b: &[u8]) -> String {
    b.iter().take(32).map(|b| format!("{b:02x}")).collect()
}

/// Runs every operation of `h` on `data` and checks the invariants.
pub fn check(h: &dyn FormatHandler, data: &[u8]) {
    let (key, keys) = key();
    let name = h.name();
    let found = h.read(data);
    let digest = h.content_digest(data);
    let _ = verify_all(h, data, keys);
    let _ = h.sniff(data);

    if let Ok(r) = h.remove(data) {
        match h.read(&r) {
            Ok(f) => assert!(f.is_empty(), "{name}: labels left after remove: {f:?}"),
            Err(e) => assert!(found.is_err(), "{name}: input reads but removed output does not: {e}"),
        }
        if let Ok(d) = &digest {
            match h.content_digest(&r) {
                Ok(d2) => assert_eq!(&d2, d, "{name}: remove changed the content digest"),
                Err(e) => panic!("{name}: no content digest after remove: {e}"),
            }
        }
    }

    let l = label();
    let Ok(w) = h.write(data, l) else {
        return;
    };
    let f = h
        .read(&w)
        .unwrap_or_else(|e| panic!("{name}: written file does not read back: {e}\n{}", hex8(&w)));
    assert_eq!(f.len(), 1, "{name}: {} labels after write: {f:?}", f.len());
    assert_eq!(&f[0].label, l, "{name}: label read back differs");
    assert_eq!(f[0].carrier, h.canonical_carrier(), "{name}: carrier after write");
    let Ok(d) = digest else {
        return;
    };
    match h.content_digest(&w) {
        Ok(d2) => assert_eq!(d2, d, "{name}: write changed the content digest"),
        Err(e) => panic!("{name}: no content digest after write: {e}"),
    }
    let signed = label_bytes(h, data, l, Some(key))
        .unwrap_or_else(|e| panic!("{name}: write succeeds but signed write fails: {e}"));
    let v = verify_all(h, &signed, keys)
        .unwrap_or_else(|e| panic!("{name}: signed file does not verify: {e}"));
    assert_eq!(v.producer, Verdict::Intact, "{name}: signed label not intact");
    // The overlapped signed path (media copied while hashing; used for large files) gives
    // the same bytes.
    let overlapped = label_bytes_from(h, data, l, Some(key), 0)
        .unwrap_or_else(|e| panic!("{name}: signed write succeeds but overlapped fails: {e}"));
    assert!(overlapped == signed, "{name}: overlapped signed output differs");
    // Both equal digest, sign, write in turn (a handler's own `write_with_digest`, PDF's one
    // parse for both, included).
    let mut one_by_one = l.clone();
    hegui_label::sign::sign_producer(&mut one_by_one, &d, key)
        .unwrap_or_else(|e| panic!("{name}: signing fails: {e}"));
    let one_by_one = h
        .write(data, &one_by_one)
        .unwrap_or_else(|e| panic!("{name}: write of the signed label fails: {e}"));
    assert!(one_by_one == signed, "{name}: signed output differs from digest-sign-write");
    // Rewriting a labeled file keeps one copy and the digest.
    let w2 = h
        .write(&signed, l)
        .unwrap_or_else(|e| panic!("{name}: rewriting a labeled file fails: {e}"));
    let f = h.read(&w2).unwrap_or_else(|e| panic!("{name}: rewritten file unreadable: {e}"));
    assert_eq!(f.len(), 1, "{name}: {} labels after rewrite: {f:?}", f.len());
    assert_eq!(
        h.content_digest(&w2).ok(),
        Some(d),
        "{name}: rewrite changed the content digest"
    );
    // Removing the label of a labeled file (PDF: taking its own update off) leaves none and
    // keeps the digest.
    let r = h
        .remove(&w2)
        .unwrap_or_else(|e| panic!("{name}: removing a written label fails: {e}"));
    let f = h.read(&r).unwrap_or_else(|e| panic!("{name}: file without its label unreadable: {e}"));
    assert!(f.is_empty(), "{name}: labels left after removing a written one: {f:?}");
    assert_eq!(
        h.content_digest(&r).ok(),
        Some(d),
        "{name}: removing a written label changed the content digest"
    );
}

#[allow(dead_code)] // not used by label_registry
/// Picks a handler by the first byte (`names[data[0] % len]`) and checks the rest of the input.
pub fn dispatch(names: &[&str], data: &[u8]) {
    static REG: OnceLock<hegui_label::Registry> = OnceLock::new();
    let reg = REG.get_or_init(hegui_label::Registry::new);
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let h = reg
        .by_name(names[sel as usize % names.len()])
        .expect("registered handler");
    check(h, rest);
}
