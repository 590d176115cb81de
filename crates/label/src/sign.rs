//! Integrity binding of implicit labels (ReservedCode1 for the producer, ReservedCode2 for the
//! propagator): an Ed25519 signature over a domain-separated message holding the content
//! digest and the label fields. The exact bytes are specified in `LABELS.md`.

use std::fmt::Write as _;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use hegui_types::AigcLabel;
use sha2::{Digest, Sha256};

use crate::digest::DigestAlg;
use crate::LabelError;

/// Domain of producer signatures (ReservedCode1) over a digest in `alg`: version 1 binds a
/// SHA-256 digest, version 2 a BLAKE3 one.
pub fn producer_domain(alg: DigestAlg) -> &'static str {
    match alg {
        DigestAlg::Sha256 => "hegui-label/1",
        DigestAlg::Blake3 => "hegui-label/2",
    }
}

/// Domain of propagator signatures (ReservedCode2) over a digest in `alg`.
pub fn propagator_domain(alg: DigestAlg) -> &'static str {
    match alg {
        DigestAlg::Sha256 => "hegui-label-propagator/1",
        DigestAlg::Blake3 => "hegui-label-propagator/2",
    }
}
const KEY_FILE_HEADER: &str = "hegui-label-signing-key/1";

/// A label signing key (Ed25519).
#[derive(Clone)]
pub struct LabelSigningKey {
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for LabelSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LabelSigningKey({})", self.key_id())
    }
}

/// A label verification key (Ed25519 public key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPublicKey {
    key: ed25519_dalek::VerifyingKey,
}

fn key_id_of(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

impl LabelSigningKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        LabelSigningKey {
            key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key with this 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        LabelSigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&secret),
        }
    }

    /// Its public half.
    pub fn public(&self) -> LabelPublicKey {
        LabelPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// Key id: hex of the first 8 bytes of SHA-256 of the public key.
    pub fn key_id(&self) -> String {
        self.public().key_id()
    }

    /// The key file text (see `LABELS.md`).
    pub fn to_file_text(&self) -> String {
        format!(
            "{KEY_FILE_HEADER}\nsecret: {}\npublic: {}\nkey-id: {}\n",
            hex::encode(self.key.to_bytes()),
            self.public().to_text(),
            self.key_id()
        )
    }

    /// Parses a key file; `source` names it in errors.
    pub fn from_file_text(source: &str, text: &str) -> Result<Self, LabelError> {
        let err = |reason: String| LabelError::Key {
            source_name: source.to_string(),
            reason,
        };
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(err(format!(
                "first line must be {KEY_FILE_HEADER:?} (make one with `hegui label keygen`)"
            )));
        }
        let (mut secret, mut public, mut kid) = (None, None, None);
        for l in lines {
            match l.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("secret", v)) => secret = Some(v.to_string()),
                Some(("public", v)) => public = Some(v.to_string()),
                Some(("key-id", v)) => kid = Some(v.to_string()),
                _ => return Err(err(format!("unexpected line {l:?}"))),
            }
        }
        let secret = secret.ok_or_else(|| err("no `secret:` line".into()))?;
        let bytes: [u8; 32] = hex::decode(&secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("`secret:` must be 64 hex digits".into()))?;
        let key = Self::from_secret(bytes);
        if let Some(p) = public {
            if LabelPublicKey::parse(&p).ok() != Some(key.public()) {
                return Err(err(
                    "`public:` does not belong to `secret:` (the file is damaged)".into(),
                ));
            }
        }
        if let Some(k) = kid {
            if k != key.key_id() {
                return Err(err(format!(
                    "`key-id:` {k} does not match the key ({})",
                    key.key_id()
                )));
            }
        }
        Ok(key)
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, LabelError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file_text(&path.display().to_string(), &text)
    }

    /// Writes a key file readable by its owner only (mode 0600 on Unix); refuses to overwrite.
    pub fn save(&self, path: &Path) -> Result<(), LabelError> {
        use std::io::Write;
        let io = |source| LabelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(self.to_file_text().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// The signature value (`LABELS.md`): a SHA-256 digest is written as version 1 wrote it,
    /// without the algorithm's name.
    fn sign(&self, msg: &[u8], alg: DigestAlg, digest: &[u8; 32]) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.key.sign(msg).to_bytes());
        let (kid, digest) = (self.key_id(), hex::encode(digest));
        match alg {
            DigestAlg::Sha256 => format!("ed25519:{kid}:{digest}:{sig}"),
            alg => format!("ed25519:{kid}:{}:{digest}:{sig}", alg.name()),
        }
    }
}

impl LabelPublicKey {
    /// Key id: hex of the first 8 bytes of SHA-256 of the key.
    pub fn key_id(&self) -> String {
        key_id_of(self.key.as_bytes())
    }

    /// `ed25519:<64 hex digits>`.
    pub fn to_text(&self) -> String {
        format!("ed25519:{}", hex::encode(self.key.as_bytes()))
    }

    /// Parses `ed25519:<hex>` or bare hex.
    pub fn parse(s: &str) -> Result<Self, LabelError> {
        let err = |reason: &str| LabelError::Key {
            source_name: s.to_string(),
            reason: reason.to_string(),
        };
        let h = s.trim().strip_prefix("ed25519:").unwrap_or(s.trim());
        let b: [u8; 32] = hex::decode(h)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("a public key is `ed25519:` and 64 hex digits"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&b)
            .map_err(|_| err("not a valid Ed25519 point"))?;
        Ok(LabelPublicKey { key })
    }
}

/// What a signature check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The signature is valid and the content is what was signed.
    Intact,
    /// The label is as signed but the content changed since.
    ContentAltered,
    /// The signed fields (or the signature) changed: the signature does not verify.
    LabelAltered,
    /// No hegui signature (absent, or another scheme such as a bare hash).
    Unsigned,
    /// Signed by a key not among those given.
    UnknownKey,
}

impl Verdict {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Intact => "intact",
            Verdict::ContentAltered => "content_altered",
            Verdict::LabelAltered => "label_altered",
            Verdict::Unsigned => "unsigned",
            Verdict::UnknownKey => "unknown_key",
        }
    }
}

fn line(m: &mut String, k: &str, v: &str) {
    let _ = writeln!(m, "{k}:{v}");
}

/// The name of the message line that holds a digest in `alg`.
fn digest_line(alg: DigestAlg) -> String {
    format!("content-{}", alg.name())
}

/// The message a producer signs (see `LABELS.md`) over `digest`, in `alg`.
pub fn producer_message(alg: DigestAlg, digest: &[u8; 32], label: &AigcLabel) -> Vec<u8> {
    let mut m = format!("{}\n", producer_domain(alg));
    line(&mut m, &digest_line(alg), &hex::encode(digest));
    line(&mut m, "Label", &label.label);
    line(&mut m, "ContentProducer", &label.content_producer);
    line(&mut m, "ProduceID", &label.produce_id);
    m.into_bytes()
}

/// The message a propagator signs (see `LABELS.md`) over `digest`, in `alg`.
pub fn propagator_message(alg: DigestAlg, digest: &[u8; 32], label: &AigcLabel) -> Vec<u8> {
    let mut m = format!("{}\n", propagator_domain(alg));
    line(&mut m, &digest_line(alg), &hex::encode(digest));
    line(&mut m, "Label", &label.label);
    line(&mut m, "ContentProducer", &label.content_producer);
    line(&mut m, "ProduceID", &label.produce_id);
    line(
        &mut m,
        "ReservedCode1",
        label.reserved_code1.as_deref().unwrap_or(""),
    );
    line(
        &mut m,
        "ContentPropagator",
        label.content_propagator.as_deref().unwrap_or(""),
    );
    line(
        &mut m,
        "PropagateID",
        label.propagate_id.as_deref().unwrap_or(""),
    );
    m.into_bytes()
}

/// Sets ReservedCode1 to the producer signature over `digest`, a content digest in
/// [`DigestAlg::CURRENT`] (what [`crate::FormatHandler::content_digest`] gives), and the
/// producer fields.
pub fn sign_producer(
    label: &mut AigcLabel,
    digest: &[u8; 32],
    key: &LabelSigningKey,
) -> Result<(), LabelError> {
    sign_producer_with(label, DigestAlg::CURRENT, digest, key)
}

/// [`sign_producer`] over a digest in `alg`.
pub fn sign_producer_with(
    label: &mut AigcLabel,
    alg: DigestAlg,
    digest: &[u8; 32],
    key: &LabelSigningKey,
) -> Result<(), LabelError> {
    label.reserved_code1 = None;
    label.validate()?;
    label.reserved_code1 = Some(key.sign(&producer_message(alg, digest, label), alg, digest));
    Ok(())
}

/// Sets ReservedCode2 to the propagator signature over `digest` (in [`DigestAlg::CURRENT`]),
/// the producer fields with ReservedCode1, and the propagator fields.
pub fn sign_propagator(
    label: &mut AigcLabel,
    digest: &[u8; 32],
    key: &LabelSigningKey,
) -> Result<(), LabelError> {
    sign_propagator_with(label, DigestAlg::CURRENT, digest, key)
}

/// [`sign_propagator`] over a digest in `alg`.
pub fn sign_propagator_with(
    label: &mut AigcLabel,
    alg: DigestAlg,
    digest: &[u8; 32],
    key: &LabelSigningKey,
) -> Result<(), LabelError> {
    label.reserved_code2 = None;
    label.validate()?;
    label.reserved_code2 = Some(key.sign(&propagator_message(alg, digest, label), alg, digest));
    Ok(())
}

/// A signature value's parts: `ed25519:<kid>:<digest>:<sig>` (SHA-256) or
/// `ed25519:<kid>:<alg>:<digest>:<sig>`. `None` for a value that is no hegui signature;
/// `Some(None)` for one that is malformed.
#[allow(clippy::type_complexity)]
fn parts(value: Option<&str>) -> Option<Option<(&str, DigestAlg, &str, &str)>> {
    let rest = value?.strip_prefix("ed25519:")?;
    let parts: Vec<&str> = rest.split(':').collect();
    Some(match parts.as_slice() {
        [kid, digest, sig] => Some((*kid, DigestAlg::Sha256, *digest, *sig)),
        // SHA-256 has one spelling, the one without its name.
        [kid, alg, digest, sig] => DigestAlg::from_name(alg)
            .filter(|a| *a != DigestAlg::Sha256)
            .map(|a| (*kid, a, *digest, *sig)),
        _ => None,
    })
}

/// The algorithm of the content digest a signature value (ReservedCode1 or ReservedCode2)
/// binds; `None` when the value is absent, no hegui signature, or malformed.
pub fn signed_digest_alg(value: Option<&str>) -> Option<DigestAlg> {
    parts(value).flatten().map(|(_, alg, _, _)| alg)
}

/// The algorithms of the content digests a label's signatures (ReservedCode1, ReservedCode2)
/// bind, each once, in order.
pub fn signed_digest_algs(label: &AigcLabel) -> Vec<DigestAlg> {
    let mut algs: Vec<DigestAlg> = [&label.reserved_code1, &label.reserved_code2]
        .into_iter()
        .filter_map(|v| signed_digest_alg(v.as_deref()))
        .collect();
    algs.sort();
    algs.dedup();
    algs
}

fn check(
    value: Option<&str>,
    message: impl Fn(DigestAlg, &[u8; 32]) -> Vec<u8>,
    current: &dyn Fn(DigestAlg) -> Option<[u8; 32]>,
    keys: &[LabelPublicKey],
) -> Verdict {
    let Some(parts) = parts(value) else {
        return Verdict::Unsigned;
    };
    let Some((kid, alg, digest_hex, sig)) = parts else {
        return Verdict::LabelAltered;
    };
    let Some(key) = keys.iter().find(|k| k.key_id() == *kid) else {
        return Verdict::UnknownKey;
    };
    let Some(stored) = hex::decode(digest_hex)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
    else {
        return Verdict::LabelAltered;
    };
    let Some(sig) = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| ed25519_dalek::Signature::from_bytes(&b))
    else {
        return Verdict::LabelAltered;
    };
    if key.key.verify(&message(alg, &stored), &sig).is_err() {
        return Verdict::LabelAltered;
    }
    if current(alg) != Some(stored) {
        return Verdict::ContentAltered;
    }
    Verdict::Intact
}

/// Checks ReservedCode1 against the file's content digest: `current` gives it in the
/// algorithm the signature names ([`signed_digest_alg`]); one it cannot give counts as
/// altered content.
pub fn verify_producer(
    label: &AigcLabel,
    current: &dyn Fn(DigestAlg) -> Option<[u8; 32]>,
    keys: &[LabelPublicKey],
) -> Verdict {
    check(
        label.reserved_code1.as_deref(),
        |alg, d| producer_message(alg, d, label),
        current,
        keys,
    )
}

/// Checks ReservedCode2 as [`verify_producer`] checks ReservedCode1.
pub fn verify_propagator(
    label: &AigcLabel,
    current: &dyn Fn(DigestAlg) -> Option<[u8; 32]>,
    keys: &[LabelPublicKey],
) -> Verdict {
    check(
        label.reserved_code2.as_deref(),
        |alg, d| propagator_message(alg, d, label),
        current,
        keys,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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

    #[test]
    fn signature_value_is_in_the_gb45438_character_set_and_verifies() {
        let k = LabelSigningKey::from_secret([7; 32]);
        let mut l = label();
        sign_producer(&mut l, &[1; 32], &k).unwrap();
        l.validate().unwrap();
        assert!(l
            .reserved_code1
            .as_deref()
            .unwrap()
            .starts_with(&format!("ed25519:{}:", k.key_id())));
        assert_eq!(
            verify_producer(&l, &|_| Some([1; 32]), &[k.public()]),
            Verdict::Intact
        );
        assert_eq!(
            verify_producer(&l, &|_| Some([2; 32]), &[k.public()]),
            Verdict::ContentAltered
        );
        let other = LabelSigningKey::from_secret([8; 32]);
        assert_eq!(
            verify_producer(&l, &|_| Some([1; 32]), &[other.public()]),
            Verdict::UnknownKey
        );
        let mut changed = l.clone();
        changed.produce_id.push('x');
        assert_eq!(
            verify_producer(&changed, &|_| Some([1; 32]), &[k.public()]),
            Verdict::LabelAltered
        );
        let mut bare = label();
        bare.reserved_code1 = Some("sha256:00".into());
        assert_eq!(
            verify_producer(&bare, &|_| Some([1; 32]), &[k.public()]),
            Verdict::Unsigned
        );
    }

    #[test]
    fn the_producer_message_is_the_documented_bytes() {
        for (alg, version) in [(DigestAlg::Sha256, 1), (DigestAlg::Blake3, 2)] {
            let m = producer_message(alg, &[0xab; 32], &label());
            let expected = format!(
                "hegui-label/{version}\ncontent-{}:{}\nLabel:1\nContentProducer:001191440300708461136T1XGW3\nProduceID:0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11\n",
                alg.name(),
                "ab".repeat(32)
            );
            assert_eq!(String::from_utf8(m).unwrap(), expected);
        }
    }

    /// A label signed over a SHA-256 digest (as every label was before BLAKE3) keeps its
    /// value's form and verifies against the SHA-256 digest only; a BLAKE3 one names its
    /// algorithm. Each is checked against the digest in the algorithm it names.
    #[test]
    fn each_signature_is_checked_against_the_digest_it_names() {
        let k = LabelSigningKey::from_secret([7; 32]);
        let digests = |alg: DigestAlg| Some([alg as u8 + 1; 32]);
        for alg in [DigestAlg::Sha256, DigestAlg::Blake3] {
            let mut l = label();
            let d = digests(alg).unwrap();
            sign_producer_with(&mut l, alg, &d, &k).unwrap();
            l.validate().unwrap();
            let value = l.reserved_code1.clone().unwrap();
            let fields = value.split(':').count();
            assert_eq!(
                fields,
                if alg == DigestAlg::Sha256 { 4 } else { 5 },
                "{value}"
            );
            assert_eq!(signed_digest_alg(Some(&value)), Some(alg));
            assert_eq!(
                verify_producer(&l, &digests, &[k.public()]),
                Verdict::Intact
            );
            // The other algorithm's digest of the same file is not what was signed.
            let other = |a: DigestAlg| {
                if a == alg {
                    Some([0xee; 32])
                } else {
                    digests(a)
                }
            };
            assert_eq!(
                verify_producer(&l, &other, &[k.public()]),
                Verdict::ContentAltered
            );
            assert_eq!(
                verify_producer(&l, &|_| None, &[k.public()]),
                Verdict::ContentAltered
            );
            // Claiming the other algorithm for the same signature breaks it.
            let mut swapped = l.clone();
            swapped.reserved_code1 = Some(match alg {
                DigestAlg::Sha256 => value.replacen(
                    &format!("{}:", k.key_id()),
                    &format!("{}:blake3:", k.key_id()),
                    1,
                ),
                DigestAlg::Blake3 => value.replacen(":blake3:", ":", 1),
            });
            assert_eq!(
                verify_producer(&swapped, &|_| Some(d), &[k.public()]),
                Verdict::LabelAltered
            );
        }
        // SHA-256 by name, or an unknown algorithm: malformed.
        let mut l = label();
        sign_producer_with(&mut l, DigestAlg::Blake3, &[1; 32], &k).unwrap();
        for alg in ["sha256", "md5"] {
            let mut bad = l.clone();
            bad.reserved_code1 = bad
                .reserved_code1
                .map(|v| v.replacen(":blake3:", &format!(":{alg}:"), 1));
            assert_eq!(signed_digest_alg(bad.reserved_code1.as_deref()), None);
            assert_eq!(
                verify_producer(&bad, &|_| Some([1; 32]), &[k.public()]),
                Verdict::LabelAltered
            );
        }
    }

    #[test]
    fn key_files_round_trip_and_damage_is_caught() {
        let k = LabelSigningKey::from_secret([9; 32]);
        let t = k.to_file_text();
        let back = LabelSigningKey::from_file_text("t", &t).unwrap();
        assert_eq!(back.public(), k.public());
        let damaged = t.replace(&k.key_id(), "0000000000000000");
        assert!(LabelSigningKey::from_file_text("t", &damaged).is_err());
        assert!(LabelSigningKey::from_file_text("t", "nonsense").is_err());
        assert_eq!(
            LabelPublicKey::parse(&k.public().to_text()).unwrap(),
            k.public()
        );
    }
}
