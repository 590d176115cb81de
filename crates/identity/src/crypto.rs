//! Encryption of personal information at rest (PIPL Art. 51) and blind indexes.
//!
//! - Phone and ID numbers are encrypted with AES-256-GCM (RustCrypto `aes-gcm`), a fresh
//!   96-bit random nonce per value, and associated data binding the ciphertext to its field
//!   and account (a ciphertext copied to another row or column does not decrypt).
//!   Stored form: `v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`.
//! - Keys carry ids, so several can be loaded at once: new values use the active key, old
//!   ones decrypt with theirs until `hegui keys rotate` re-encrypts them.
//! - Uniqueness and lookup use an HMAC-SHA-256 blind index under a separate key, so equal
//!   numbers can be found without decrypting anything.
//! - Keys live in a TOML key file (mode 0600) or the `HEGUI_PI_KEYS` environment variable
//!   (the same TOML), never in the database.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Environment variable that may hold the key file's content instead of a file.
pub const PI_KEYS_ENV: &str = "HEGUI_PI_KEYS";

/// Which personal-information field a value belongs to (part of the associated data and of
/// the blind index, so values of different fields never compare equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Mainland mobile number (11 digits).
    Phone,
    /// Resident ID number (18 characters).
    IdNumber,
    /// A client IP address (blind index only: used for rate limits, never stored).
    Ip,
    /// A complainant's contact details (phone, e-mail or other), given with a complaint.
    Contact,
}

impl Field {
    fn tag(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::IdNumber => "id_number",
            Field::Ip => "ip",
            Field::Contact => "contact",
        }
    }
}

/// What went wrong with keys or ciphertexts. Messages never contain key material or
/// plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key file could not be read or written.
    #[error("PI key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file is not valid.
    #[error("PI keys from {source_name} are invalid: {detail}")]
    Invalid {
        /// File path or environment variable.
        source_name: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A ciphertext names a key that is not loaded.
    #[error("a stored value is encrypted under key {0:?}, which is not in the PI key file: restore that key (old keys must stay until `hegui keys rotate` has re-encrypted everything)")]
    UnknownKey(String),
    /// A ciphertext is malformed, altered, or belongs to another field or account.
    #[error("a stored {field} value does not decrypt: it was altered, copied from another account, or encrypted under a different key with the same id")]
    Decrypt {
        /// The field.
        field: &'static str,
    },
}

/// The key file's on-disk form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// Id of the key that encrypts new values.
    active: String,
    /// Base64 of the 32-byte blind-index key.
    index_key: String,
    /// Every encryption key, old and new.
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    /// Base64 of 32 bytes.
    secret: String,
    /// When the key was made (RFC 3339), for the operator's information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
}

/// The loaded personal-information keys.
#[derive(Clone)]
pub struct PiKeys {
    keys: BTreeMap<String, ([u8; 32], Option<String>)>,
    active: String,
    index_key: [u8; 32],
}

impl fmt::Debug for PiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiKeys")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

fn random_32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

fn decode_32(value: &str, what: &str, source_name: &str) -> Result<[u8; 32], CryptoError> {
    let invalid = |detail: String| CryptoError::Invalid {
        source_name: source_name.into(),
        detail,
    };
    let bytes = B64
        .decode(value.trim())
        .map_err(|_| invalid(format!("{what} is not base64")))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        invalid(format!(
            "{what} must be 32 bytes (base64 of 32 random bytes), found {}",
            b.len()
        ))
    })
}

impl PiKeys {
    /// New keys: one encryption key `k1` and a blind-index key, all random.
    pub fn generate() -> PiKeys {
        let mut keys = BTreeMap::new();
        keys.insert(
            "k1".to_string(),
            (random_32(), Some(chrono::Utc::now().to_rfc3339())),
        );
        PiKeys {
            keys,
            active: "k1".into(),
            index_key: random_32(),
        }
    }

    /// Parses the key file's TOML; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<PiKeys, CryptoError> {
        let invalid = |detail: String| CryptoError::Invalid {
            source_name: source_name.into(),
            detail,
        };
        let file: KeyFile = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        let mut keys = BTreeMap::new();
        for k in file.keys {
            if k.id.is_empty() || k.id.contains(':') {
                return Err(invalid(format!(
                    "key id {:?} must be non-empty and contain no ':'",
                    k.id
                )));
            }
            let secret = decode_32(&k.secret, &format!("key {:?}", k.id), source_name)?;
            if keys.insert(k.id.clone(), (secret, k.created)).is_some() {
                return Err(invalid(format!("key id {:?} appears twice", k.id)));
            }
        }
        if !keys.contains_key(&file.active) {
            return Err(invalid(format!(
                "active key {:?} is not among the keys ({})",
                file.active,
                keys.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(PiKeys {
            keys,
            active: file.active,
            index_key: decode_32(&file.index_key, "index_key", source_name)?,
        })
    }

    /// Loads the key file.
    pub fn load(path: &Path) -> Result<PiKeys, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        })?;
        PiKeys::from_toml(&text, &path.display().to_string())
    }

    /// Keys from [`PI_KEYS_ENV`] if set, otherwise from `path`; `None` when neither exists.
    pub fn from_env_or_file(path: Option<&Path>) -> Result<Option<PiKeys>, CryptoError> {
        if let Ok(text) = std::env::var(PI_KEYS_ENV) {
            if !text.trim().is_empty() {
                return PiKeys::from_toml(&text, PI_KEYS_ENV).map(Some);
            }
        }
        match path {
            Some(p) if p.exists() => PiKeys::load(p).map(Some),
            _ => Ok(None),
        }
    }

    /// The key file's TOML.
    pub fn to_toml(&self) -> String {
        let file = KeyFile {
            active: self.active.clone(),
            index_key: B64.encode(self.index_key),
            keys: self
                .keys
                .iter()
                .map(|(id, (secret, created))| KeyEntry {
                    id: id.clone(),
                    secret: B64.encode(secret),
                    created: created.clone(),
                })
                .collect(),
        };
        let body = toml::to_string(&file).unwrap_or_default();
        format!(
            "# hegui personal-information keys. Keep this file secret (mode 0600) and backed up\n\
             # apart from the database: without it encrypted phone and ID numbers cannot be read.\n\
             # `hegui keys rotate` adds a key and re-encrypts; keep old keys until it has finished.\n{body}"
        )
    }

    /// Writes the key file atomically (temporary file, then rename), readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let io = |source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(self.to_toml().as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Adds a new random key and makes it the active one; returns its id.
    pub fn add_key(&mut self) -> String {
        let mut n = self.keys.len() + 1;
        while self.keys.contains_key(&format!("k{n}")) {
            n += 1;
        }
        let id = format!("k{n}");
        self.keys.insert(
            id.clone(),
            (random_32(), Some(chrono::Utc::now().to_rfc3339())),
        );
        self.active = id.clone();
        id
    }

    /// Removes a key that no stored value uses any more (never the active one).
    pub fn retire(&mut self, id: &str) -> Result<(), CryptoError> {
        if id == self.active {
            return Err(CryptoError::Invalid {
                source_name: "hegui keys rotate".into(),
                detail: format!("{id:?} is the active key and cannot be retired"),
            });
        }
        self.keys.remove(id);
        Ok(())
    }

    /// The id of the key new values are encrypted under.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Every loaded key id.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    fn aad(field: Field, owner: &str) -> String {
        format!("hegui-pi/v1|{}|{owner}", field.tag())
    }

    /// Encrypts `plaintext` of `field` for `owner` (the account id) under the active key.
    pub fn encrypt(&self, field: Field, owner: &str, plaintext: &str) -> String {
        // The active key is always present: `from_toml`, `generate` and `add_key` ensure it.
        let secret = self
            .keys
            .get(&self.active)
            .map(|(s, _)| *s)
            .unwrap_or([0u8; 32]);
        let cipher = Aes256Gcm::new(&secret.into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(field, owner);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("v1:{}:{}", self.active, B64.encode(blob))
    }

    /// The key id a stored value was encrypted under.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(id), Some(_)) => Some(id),
            _ => None,
        }
    }

    /// Decrypts a stored value of `field` belonging to `owner`.
    pub fn decrypt(&self, field: Field, owner: &str, stored: &str) -> Result<String, CryptoError> {
        let bad = || CryptoError::Decrypt { field: field.tag() };
        let mut parts = stored.splitn(3, ':');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let (secret, _) = self
            .keys
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let blob = B64.decode(body).map_err(|_| bad())?;
        if blob.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = blob.split_at(12);
        let aad = Self::aad(field, owner);
        let plain = Aes256Gcm::new(&(*secret).into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }

    /// Re-encrypts a stored value under the active key (unchanged if already under it).
    pub fn reencrypt(
        &self,
        field: Field,
        owner: &str,
        stored: &str,
    ) -> Result<String, CryptoError> {
        if Self::key_id_of(stored) == Some(self.active.as_str()) {
            return Ok(stored.to_string());
        }
        let plain = self.decrypt(field, owner, stored)?;
        Ok(self.encrypt(field, owner, &plain))
    }

    fn mac(&self, data: &[&[u8]]) -> Hmac<Sha256> {
        // HMAC pads keys shorter than the hash's 64-byte block with zeros (RFC 2104), so the
        // padded array gives the same MAC as the 32-byte key, through the infallible
        // constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.index_key);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
        for d in data {
            mac.update(d);
        }
        mac
    }

    /// The blind index of a normalised value: hex HMAC-SHA-256 under the index key.
    pub fn blind_index(&self, field: Field, normalised: &str) -> String {
        let tag = field.tag();
        hex::encode(
            self.mac(&[b"index|", tag.as_bytes(), b"|", normalised.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// A keyed hash of a one-time code bound to its challenge.
    pub fn code_hash(&self, challenge_id: &str, code: &str) -> String {
        hex::encode(
            self.mac(&[b"otp|", challenge_id.as_bytes(), b"|", code.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `code` matches the stored hash, compared in constant time (`hmac`'s
    /// `verify_slice` uses `subtle`).
    pub fn code_matches(&self, challenge_id: &str, code: &str, stored_hash: &str) -> bool {
        let Ok(expected) = hex::decode(stored_hash) else {
            return false;
        };
        self.mac(&[b"otp|", challenge_id.as_bytes(), b"|", code.as_bytes()])
            .verify_slice(&expected)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = PiKeys::generate();
        let c = k.encrypt(Field::Phone, "usr_a", "13812345678");
        assert!(c.starts_with("v1:k1:"));
        assert!(!c.contains("13812345678"));
        assert_eq!(k.decrypt(Field::Phone, "usr_a", &c).unwrap(), "13812345678");
        // Bound to the account and the field.
        assert!(matches!(
            k.decrypt(Field::Phone, "usr_b", &c),
            Err(CryptoError::Decrypt { .. })
        ));
        assert!(k.decrypt(Field::IdNumber, "usr_a", &c).is_err());
        // Fresh nonce each time.
        assert_ne!(c, k.encrypt(Field::Phone, "usr_a", "13812345678"));
        // One flipped character is caught.
        let mut bytes = c.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(k.decrypt(Field::Phone, "usr_a", &altered).is_err());
    }

    #[test]
    fn rotation_keeps_old_values_readable_until_reencrypted() {
        let mut k = PiKeys::generate();
        let old = k.encrypt(Field::IdNumber, "u", "11010519491231002X");
        let id = k.add_key();
        assert_eq!(id, "k2");
        assert_eq!(
            k.decrypt(Field::IdNumber, "u", &old).unwrap(),
            "11010519491231002X"
        );
        let new = k.reencrypt(Field::IdNumber, "u", &old).unwrap();
        assert_eq!(PiKeys::key_id_of(&new), Some("k2"));
        k.retire("k1").unwrap();
        assert!(matches!(
            k.decrypt(Field::IdNumber, "u", &old),
            Err(CryptoError::UnknownKey(_))
        ));
        assert_eq!(
            k.decrypt(Field::IdNumber, "u", &new).unwrap(),
            "11010519491231002X"
        );
        assert!(k.retire("k2").is_err());
    }

    #[test]
    fn key_file_round_trip_and_errors() {
        let k = PiKeys::generate();
        let text = k.to_toml();
        let back = PiKeys::from_toml(&text, "t").unwrap();
        let c = k.encrypt(Field::Phone, "u", "13800000000");
        assert_eq!(back.decrypt(Field::Phone, "u", &c).unwrap(), "13800000000");
        assert_eq!(
            k.blind_index(Field::Phone, "1"),
            back.blind_index(Field::Phone, "1")
        );
        let e = PiKeys::from_toml("active = \"k9\"\nindex_key = \"AAAA\"\nkeys = []", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.toml") && e.contains("k9"), "{e}");
        let e = PiKeys::from_toml(&text.replace("index_key = \"", "index_key = \"AA"), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("index_key"), "{e}");
        let e = PiKeys::from_toml(&text.replace("active = \"k1\"", "active = \"k7\""), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("k7"), "{e}");
        // Debug never shows key material.
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&B64.encode(k.index_key)));
    }

    #[test]
    fn saved_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pi.toml");
        PiKeys::generate().save(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(PiKeys::load(&p).is_ok());
    }

    #[test]
    fn blind_index_and_codes() {
        let k = PiKeys::generate();
        let other = PiKeys::generate();
        assert_eq!(
            k.blind_index(Field::Phone, "13812345678"),
            k.blind_index(Field::Phone, "13812345678")
        );
        assert_ne!(
            k.blind_index(Field::Phone, "13812345678"),
            k.blind_index(Field::IdNumber, "13812345678")
        );
        assert_ne!(
            k.blind_index(Field::Phone, "13812345678"),
            other.blind_index(Field::Phone, "13812345678")
        );
        let h = k.code_hash("otp_1", "123456");
        assert!(k.code_matches("otp_1", "123456", &h));
        assert!(!k.code_matches("otp_1", "123457", &h));
        assert!(!k.code_matches("otp_2", "123456", &h));
        assert!(!k.code_matches("otp_1", "123456", "zz"));
    }
}
