//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! Checkpoints travel as signed notes so that the tooling of the transparency ecosystem
//! (Go's `golang.org/x/mod/sumdb/note`, witnesses, monitors) can read and check them. Key
//! strings use the same `name+keyid+base64` encoding as that package, so a key printed by
//! hegui works there and the reverse; `tests` pins this against Go's published example.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::CheckpointError;

/// Signature algorithm byte of Ed25519 keys.
pub const ALG_ED25519: u8 = 0x01;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// More signature lines than this make a note malformed (as in Go's implementation).
pub const MAX_SIGNATURES: usize = 100;

/// Signature lines of keys we do not know are decoded like Go's `base64.StdEncoding`, which
/// tolerates non-zero trailing bits; our own output is always canonical.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), big-endian.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut typed = [0u8; 33];
    typed[0] = ALG_ED25519;
    typed[1..].copy_from_slice(public_key);
    key_hash(name, &typed)
}

/// The key ID over an algorithm-tagged key, as the key-string formats compute it.
fn key_hash(name: &str, typed_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(typed_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Whether `name` is a valid key name: non-empty, no whitespace, no '+'.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

fn check_name(name: &str) -> Result<(), CheckpointError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(CheckpointError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

fn parse_key_id(hex8: &str, kind: &'static str) -> Result<u32, CheckpointError> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CheckpointError::BadKeyString {
            kind,
            reason: "the key ID is not 8 hex digits".to_owned(),
        });
    }
    u32::from_str_radix(hex8, 16).map_err(|_| CheckpointError::BadKeyString {
        kind,
        reason: "the key ID is not 8 hex digits".to_owned(),
    })
}

/// A private signing key with its name, for signing notes.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// Generates a fresh key named `name` from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        check_name(name)?;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(Self::with_key(name, key))
    }

    /// Builds the key named `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CheckpointError> {
        check_name(name)?;
        Ok(Self::with_key(name, SigningKey::from_bytes(&seed)))
    }

    fn with_key(name: &str, key: SigningKey) -> Self {
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Self {
            name: name.to_owned(),
            key_id,
            key,
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ seed)>`.
    pub fn from_key_string(s: &str) -> Result<Self, CheckpointError> {
        const KIND: &str = "signer";
        let bad = |reason: &str| CheckpointError::BadKeyString {
            kind: KIND,
            reason: reason.to_owned(),
        };
        let mut parts = s.trim().splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(hex8), Some(b64)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad(
                "expected PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>",
            ));
        };
        check_name(name)?;
        let stated = parse_key_id(hex8, KIND)?;
        let typed = STANDARD
            .decode(b64)
            .map_err(|_| bad("the key is not standard base64"))?;
        let Some((&alg, seed)) = typed.split_first() else {
            return Err(bad("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(CheckpointError::UnsupportedAlgorithm { kind: KIND, alg });
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("an Ed25519 seed must be 32 bytes"))?;
        let signer = Self::with_key(name, SigningKey::from_bytes(&seed));
        if signer.key_id != stated {
            return Err(CheckpointError::KeyIdMismatch {
                kind: KIND,
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The private key string `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`. Secret.
    pub fn key_string(&self) -> String {
        let mut typed = Vec::with_capacity(33);
        typed.push(ALG_ED25519);
        typed.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(typed)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The public verifier key string `<name>+<key id>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_string(&self) -> String {
        self.verifier().key_string()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign_bytes(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Signer {
    // Never print the seed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A public Ed25519 key with its name, for checking note signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses `<name>+<8 hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn from_key_string(s: &str) -> Result<Self, CheckpointError> {
        const KIND: &str = "verifier";
        let bad = |reason: &str| CheckpointError::BadKeyString {
            kind: KIND,
            reason: reason.to_owned(),
        };
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(hex8), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<8 hex digits>+<base64 key>"));
        };
        check_name(name)?;
        let stated = parse_key_id(hex8, KIND)?;
        let typed = STANDARD
            .decode(b64)
            .map_err(|_| bad("the key is not standard base64"))?;
        let Some((&alg, raw)) = typed.split_first() else {
            return Err(bad("the key is empty"));
        };
        let computed = key_hash(name, &typed);
        if computed != stated {
            return Err(CheckpointError::KeyIdMismatch {
                kind: KIND,
                stated,
                computed,
            });
        }
        if alg != ALG_ED25519 {
            return Err(CheckpointError::UnsupportedAlgorithm { kind: KIND, alg });
        }
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| bad("an Ed25519 public key must be 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&raw).map_err(|_| bad("not a valid Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            key_id: stated,
            key,
        })
    }

    /// The key string `<name>+<key id>+<base64(0x01 ‖ public key)>`.
    pub fn key_string(&self) -> String {
        let mut typed = Vec::with_capacity(33);
        typed.push(ALG_ED25519);
        typed.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(typed)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn verify_bytes(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        // Strict verification: no malleable or small-order signatures and keys.
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_string())
    }
}

/// Checks note text: non-empty, ends in a newline, no control characters but newline.
fn check_text(text: &str) -> Result<(), CheckpointError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(CheckpointError::InvalidField {
            field: "note text".to_owned(),
            reason: "it must be non-empty and end with a newline",
        });
    }
    check_controls(text)
}

fn check_controls(s: &str) -> Result<(), CheckpointError> {
    match s.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((offset, c)) => Err(CheckpointError::ControlCharacter {
            offset,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// Signs `text` (which must end in a newline) and returns the signed note.
pub fn sign(text: &str, signer: &Signer) -> Result<String, CheckpointError> {
    check_text(text)?;
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&signer.key_id.to_be_bytes());
    blob.extend_from_slice(&signer.sign_bytes(text.as_bytes()));
    Ok(format!(
        "{text}\n{SIG_PREFIX}{} {}\n",
        signer.name,
        STANDARD.encode(blob)
    ))
}

/// Opens a signed note: returns its text if `verifier` signed it.
///
/// Signatures by other keys are allowed and ignored; every signature by `verifier` must be
/// valid. A note whose signature block is malformed anywhere is rejected.
pub fn open<'a>(note: &'a str, verifier: &Verifier) -> Result<&'a str, CheckpointError> {
    check_controls(note)?;
    let Some(split) = note.rfind("\n\n") else {
        return Err(CheckpointError::MalformedNote {
            reason: "no blank line before the signature lines",
        });
    };
    let text = &note[..=split];
    let sigs = &note[split + 2..];
    if sigs.is_empty() {
        return Err(CheckpointError::MalformedNote {
            reason: "no signature lines after the blank line",
        });
    }
    if !sigs.ends_with('\n') {
        return Err(CheckpointError::MalformedNote {
            reason: "the last signature line does not end with a newline",
        });
    }

    let mut verified = false;
    let mut name_mismatch: Option<String> = None;
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in sigs.split_terminator('\n').enumerate() {
        let line_no = i + 1;
        if line_no > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let bad = |reason| CheckpointError::BadSignatureLine {
            line: line_no,
            reason,
        };
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("it does not start with an em dash (U+2014) and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("expected a key name, a space and a base64 signature"))?;
        if !is_valid_name(name) {
            return Err(bad("the key name is empty or contains whitespace or '+'"));
        }
        if b64.is_empty() {
            return Err(bad("the signature is empty"));
        }
        let blob = LENIENT
            .decode(b64)
            .map_err(|_| bad("the signature is not standard base64"))?;
        let Some((id, sig)) = blob.split_first_chunk::<4>() else {
            return Err(bad("the signature is shorter than a key ID"));
        };
        if sig.is_empty() {
            return Err(bad("the signature has a key ID but no signature bytes"));
        }
        let id = u32::from_be_bytes(*id);
        seen.push(format!("{name}+{id:08x}"));
        if id != verifier.key_id {
            continue;
        }
        if name != verifier.name {
            name_mismatch.get_or_insert_with(|| name.to_owned());
            continue;
        }
        if !verifier.verify_bytes(text.as_bytes(), sig) {
            return Err(CheckpointError::BadSignature {
                line: line_no,
                name: name.to_owned(),
                key_id: id,
            });
        }
        verified = true;
    }
    if verified {
        return Ok(text);
    }
    if let Some(found) = name_mismatch {
        return Err(CheckpointError::KeyNameMismatch {
            expected: verifier.name.clone(),
            found,
            key_id: verifier.key_id,
        });
    }
    Err(CheckpointError::NoSignatureByKey {
        name: verifier.name.clone(),
        key_id: verifier.key_id,
        seen: seen.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note (package documentation and note_test.go).
    const GO_SIGNER: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n\
                           \n\
                           \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_example_key_strings_round_trip() {
        let signer = Signer::from_key_string(GO_SIGNER).unwrap();
        assert_eq!(signer.key_string(), GO_SIGNER);
        assert_eq!(signer.verifier_string(), GO_VERIFIER);
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        assert_eq!(verifier, signer.verifier());
        assert_eq!(verifier.key_id(), 0xc74f20a3);
        assert_eq!(verifier.to_string(), GO_VERIFIER);
    }

    #[test]
    fn go_example_note_is_reproduced_byte_for_byte() {
        let signer = Signer::from_key_string(GO_SIGNER).unwrap();
        assert_eq!(sign(GO_TEXT, &signer).unwrap(), GO_NOTE);
    }

    #[test]
    fn go_example_note_opens() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        assert_eq!(open(GO_NOTE, &verifier).unwrap(), GO_TEXT);
    }

    #[test]
    fn verifier_key_with_plus_in_base64_parses() {
        // From transparency-dev/formats tests: the base64 part contains a '+'.
        let v =
            Verifier::from_key_string("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
                .unwrap();
        assert_eq!(v.name(), "TEST");
        assert_eq!(v.key_id(), 0x7997405c);
    }

    #[test]
    fn key_string_manglings_are_rejected() {
        // Every proper substring and every single-byte change must fail to parse.
        let b = GO_VERIFIER.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(Verifier::from_key_string(s).is_err(), "accepted {s:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(Verifier::from_key_string(s).is_err(), "accepted {s:?}");
            }
        }
    }

    #[test]
    fn signer_key_string_errors_do_not_leak_the_secret() {
        let s = GO_SIGNER.replace("c74f20a3", "00000000"); // wrong key ID
        let err = Signer::from_key_string(&s).unwrap_err();
        assert!(matches!(err, CheckpointError::KeyIdMismatch { .. }));
        assert!(!err.to_string().contains("AYEKFALV"));
        assert!(!format!("{:?}", Signer::from_key_string(GO_SIGNER).unwrap()).contains("AYEKFALV"));
    }

    #[test]
    fn invalid_names_are_rejected() {
        for name in ["", "a b", "a+b", "tab\there", "nbsp\u{a0}"] {
            assert!(Signer::from_seed(name, [7; 32]).is_err(), "{name:?}");
        }
    }

    #[test]
    fn text_without_final_newline_cannot_be_signed() {
        let signer = Signer::from_seed("k", [1; 32]).unwrap();
        assert!(sign("no newline", &signer).is_err());
        assert!(sign("", &signer).is_err());
        assert!(matches!(
            sign("tab\tinside\n", &signer),
            Err(CheckpointError::ControlCharacter { offset: 3, code: 9 })
        ));
    }

    #[test]
    fn altered_note_is_rejected() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let altered = GO_NOTE.replace("cryptography", "cryptographY");
        assert!(matches!(
            open(&altered, &verifier),
            Err(CheckpointError::BadSignature { line: 1, .. })
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored_but_must_be_well_formed() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let other = Signer::from_seed("other.example/log", [9; 32]).unwrap();
        let theirs = sign(GO_TEXT, &other).unwrap();
        let their_line = theirs.rsplit_once("\n\n").unwrap().1;
        let both = format!("{GO_NOTE}{their_line}");
        assert_eq!(open(&both, &verifier).unwrap(), GO_TEXT);

        let garbage = format!("{GO_NOTE}\u{2014} other not-base64!\n");
        assert!(matches!(
            open(&garbage, &verifier),
            Err(CheckpointError::BadSignatureLine { line: 2, .. })
        ));
    }

    #[test]
    fn note_signed_only_by_others_is_rejected_with_the_signers_named() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let other = Signer::from_seed("other.example/log", [9; 32]).unwrap();
        let theirs = sign(GO_TEXT, &other).unwrap();
        let err = open(&theirs, &verifier).unwrap_err();
        assert!(matches!(err, CheckpointError::NoSignatureByKey { .. }));
        assert!(err.to_string().contains("other.example/log+"));
    }

    #[test]
    fn right_key_id_under_another_name_is_a_name_mismatch() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let renamed = GO_NOTE.replace("\u{2014} PeterNeumann ", "\u{2014} PaulNeumann ");
        assert!(matches!(
            open(&renamed, &verifier),
            Err(CheckpointError::KeyNameMismatch { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let cases = [
            GO_TEXT.to_owned(),                                       // no signature block
            format!("{GO_TEXT}\n"),                                   // blank line, no signatures
            GO_NOTE.trim_end_matches('\n').to_owned(),                // last line unterminated
            GO_NOTE.replace('\u{2014}', "-"),                         // ASCII dash
            GO_NOTE.replace("PeterNeumann x08", "PeterNeumann  x08"), // double space
            GO_NOTE.replacen("If", "I\r", 1),                         // control character
        ];
        for case in cases {
            assert!(open(&case, &verifier).is_err(), "accepted {case:?}");
        }
    }

    #[test]
    fn more_than_100_signature_lines_are_rejected() {
        let verifier = Verifier::from_key_string(GO_VERIFIER).unwrap();
        let line = GO_NOTE.rsplit_once("\n\n").unwrap().1;
        let many = format!("{GO_TEXT}\n{}", line.repeat(101));
        assert!(matches!(
            open(&many, &verifier),
            Err(CheckpointError::TooManySignatures { max: 100 })
        ));
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        let signer = Signer::generate("log.example/hegui").unwrap();
        let verifier = Verifier::from_key_string(&signer.verifier_string()).unwrap();
        let note = sign("hello\n", &signer).unwrap();
        assert_eq!(open(&note, &verifier).unwrap(), "hello\n");
        let again = Signer::from_key_string(&signer.key_string()).unwrap();
        assert_eq!(again.verifier(), verifier);
    }
}
