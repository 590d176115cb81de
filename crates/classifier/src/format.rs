//! The model file: `MODEL_FORMAT.md` is its specification; this is the one implementation.
//!
//! ```text
//! magic "HEGUICLF" (8) | version u32le | header_len u32le | weight_count u64le
//! | header (JSON, header_len bytes) | weights (weight_count × f32le) | SHA-256 of all before (32)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::{Model, ModelMeta};
use crate::risk::is_tc260_code;
use crate::train::MAX_WEIGHTS;

/// The first 8 bytes of every model file.
pub const MAGIC: [u8; 8] = *b"HEGUICLF";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the header: magic, version, header length, weight count.
pub const PREAMBLE_LEN: usize = 8 + 4 + 4 + 8;
/// Bytes of the SHA-256 trailer.
pub const TRAILER_LEN: usize = 32;
/// Largest JSON header accepted (the header holds metadata, not weights).
pub const MAX_HEADER_LEN: u32 = 16 << 20;

/// Why a model file could not be loaded. Each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read model file {path}: {source}; check the path and permissions")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file does not start with [`MAGIC`].
    #[error("not a hegui classifier model: the file starts with {found:?}, expected \"HEGUICLF\"; check that the path names a model written by `hegui classifier train`")]
    NotAModel {
        /// The first bytes of the file (up to 8).
        found: String,
    },
    /// The format version is not [`FORMAT_VERSION`].
    #[error("model file format version {found} is not supported (this build reads version {supported}); re-train the model with this build, or use the hegui release that wrote it")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends before a part it declares.
    #[error("model file truncated: expected {expected} bytes of {part}, found {found}; re-train or copy the file again")]
    Truncated {
        /// Which part is short.
        part: &'static str,
        /// Bytes the part should have.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Bytes follow the checksum trailer.
    #[error("model file has {extra} unexpected bytes after its checksum (expected {expected} bytes in all); copy the file again")]
    TrailingBytes {
        /// Expected file length.
        expected: u64,
        /// Extra bytes.
        extra: u64,
    },
    /// The declared header length is implausible.
    #[error("model header length {found} exceeds the {MAX_HEADER_LEN}-byte limit; the file is damaged or not a model")]
    HeaderTooLarge {
        /// The declared length.
        found: u32,
    },
    /// The SHA-256 trailer does not match the contents.
    #[error("model file corrupted: its contents hash to {computed} but the trailer records {stored}; re-train or copy the file again")]
    ChecksumMismatch {
        /// SHA-256 (hex) of the contents.
        computed: String,
        /// SHA-256 (hex) in the trailer.
        stored: String,
    },
    /// The header is not valid metadata JSON.
    #[error("model header is not valid metadata: {source}; the file was not written by a compatible hegui-classifier, re-train it")]
    BadHeader {
        /// The parse error.
        source: serde_json::Error,
    },
    /// The header and weights do not fit together.
    #[error("model file is inconsistent: {reason}; re-train the model")]
    Inconsistent {
        /// What does not fit.
        reason: String,
    },
}

/// Why a model file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Writing or renaming failed.
    #[error(
        "cannot write model file {path}: {source}; check that the directory exists and is writable"
    )]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The metadata could not be serialised (not expected to happen).
    #[error("cannot encode model metadata: {0}")]
    Encode(#[from] serde_json::Error),
}

impl Model {
    /// The model as file bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SaveError> {
        let header = serde_json::to_vec(self.meta())?;
        let weight_count = self.biases().len() + self.weights().len();
        let mut out =
            Vec::with_capacity(PREAMBLE_LEN + header.len() + 4 * weight_count + TRAILER_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Headers are a few KiB; the cap is enforced on read, and serde_json output of the
        // metadata cannot approach 4 GiB.
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&(weight_count as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for w in self.biases().iter().chain(self.weights()) {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Writes the model to `path` atomically: a temporary file in the same directory, synced,
    /// then renamed over `path`, so a reader never sees half a model.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SaveError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let io = |source| SaveError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    /// Reads and checks a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Model, LoadError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Model::from_bytes(&bytes)
    }

    /// Parses and checks model file bytes: magic, version, lengths, checksum, then the header
    /// and its agreement with the weights. Never panics, and allocates nothing for the weights
    /// before the lengths are known to match the input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, LoadError> {
        let len = bytes.len() as u64;
        let magic = bytes.get(..8).unwrap_or(bytes);
        // A prefix of the magic (or nothing) is a truncated model, not a foreign file.
        if MAGIC.get(..magic.len()) != Some(magic) {
            return Err(LoadError::NotAModel {
                found: String::from_utf8_lossy(magic).into_owned(),
            });
        }
        let Some(pre) = bytes.get(..PREAMBLE_LEN) else {
            return Err(LoadError::Truncated {
                part: "preamble (magic, version, lengths)",
                expected: PREAMBLE_LEN as u64,
                found: len,
            });
        };
        let version = u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]);
        if version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let header_len = u32::from_le_bytes([pre[12], pre[13], pre[14], pre[15]]);
        if header_len > MAX_HEADER_LEN {
            return Err(LoadError::HeaderTooLarge { found: header_len });
        }
        let mut wc = [0u8; 8];
        wc.copy_from_slice(&pre[16..24]);
        let weight_count = u64::from_le_bytes(wc);

        let header_end = PREAMBLE_LEN as u64 + u64::from(header_len);
        if len < header_end {
            return Err(LoadError::Truncated {
                part: "header",
                expected: u64::from(header_len),
                found: len - PREAMBLE_LEN as u64,
            });
        }
        let weight_bytes = weight_count.saturating_mul(4);
        let weights_end = header_end.saturating_add(weight_bytes);
        if len < weights_end {
            return Err(LoadError::Truncated {
                part: "weights",
                expected: weight_bytes,
                found: len - header_end,
            });
        }
        let total = weights_end.saturating_add(TRAILER_LEN as u64);
        if len < total {
            return Err(LoadError::Truncated {
                part: "checksum trailer",
                expected: TRAILER_LEN as u64,
                found: len - weights_end,
            });
        }
        if len > total {
            return Err(LoadError::TrailingBytes {
                expected: total,
                extra: len - total,
            });
        }
        // All offsets are now within `bytes`, so the conversions below cannot truncate.
        let (body, trailer) = bytes.split_at(weights_end as usize);
        let computed = Sha256::digest(body);
        if computed.as_slice() != trailer {
            return Err(LoadError::ChecksumMismatch {
                computed: hex::encode(computed),
                stored: hex::encode(trailer),
            });
        }
        let header = &body[PREAMBLE_LEN..header_end as usize];
        let meta: ModelMeta =
            serde_json::from_slice(header).map_err(|source| LoadError::BadHeader { source })?;
        let units = check_meta(&meta)?;
        let buckets = meta.features.buckets();
        let expected = (buckets.saturating_add(1)).saturating_mul(units);
        if weight_count != expected as u64 {
            return Err(LoadError::Inconsistent {
                reason: format!(
                    "the header describes {units} unit(s) × (2^{} buckets + bias) = {expected} weights, the file holds {weight_count}",
                    meta.features.bucket_bits
                ),
            });
        }
        let mut values = Vec::with_capacity(expected);
        for (i, chunk) in body[header_end as usize..].chunks_exact(4).enumerate() {
            let w = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if !w.is_finite() {
                return Err(LoadError::Inconsistent {
                    reason: format!("weight {i} is {w}, not a finite number"),
                });
            }
            values.push(w);
        }
        let weights = values.split_off(units);
        Ok(Model::from_parts(meta, values, weights))
    }
}

/// Checks the metadata on its own; returns the number of units.
fn check_meta(meta: &ModelMeta) -> Result<usize, LoadError> {
    let bad = |reason: String| LoadError::Inconsistent { reason };
    if let Some(problem) = meta.features.problem() {
        return Err(bad(format!("features: {problem}")));
    }
    if meta.labels.len() < 2 {
        return Err(bad(format!(
            "{} label(s); a model has at least two",
            meta.labels.len()
        )));
    }
    let mut names = std::collections::BTreeSet::new();
    for l in &meta.labels {
        if !names.insert(l.name.as_str()) {
            return Err(bad(format!("label {:?} appears twice", l.name)));
        }
        if let Some(code) = &l.risk_code {
            if !is_tc260_code(code) {
                return Err(bad(format!(
                    "label {:?} has risk code {code:?}, which is not a TC260 code",
                    l.name
                )));
            }
        }
    }
    if meta.kind == crate::model::ModelKind::Binary && meta.labels.len() != 2 {
        return Err(bad(format!(
            "a binary model has {} labels",
            meta.labels.len()
        )));
    }
    if !(meta.threshold > 0.0 && meta.threshold < 1.0) {
        return Err(bad(format!(
            "threshold {} is not in (0, 1)",
            meta.threshold
        )));
    }
    let units = meta.kind.units(meta.labels.len());
    if meta.features.buckets().saturating_mul(units) > MAX_WEIGHTS {
        return Err(bad("more weights than this build accepts".to_owned()));
    }
    Ok(units)
}
