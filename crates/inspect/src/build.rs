//! Writing a bundle: the exporter feeds leaves in index order, the period's checkpoints and
//! the supporting `purge` records; the builder withholds content outside the period, builds
//! the CSV views, counts, hashes every member and writes the tar archive.

use std::collections::BTreeMap;
use std::io::Write;

use hegui_ledger::{Hash, LeafEntry};
use sha2::{Digest, Sha256};

use crate::format::{
    china_time, members, CheckpointLine, LeafRange, Manifest, MemberDigest, Period, RecordLine,
    Status, INSPECTION_FORMAT,
};
use crate::views::Views;

/// What the manifest says about the export itself.
#[derive(Debug, Clone)]
pub struct Header {
    /// Start of the period, inclusive (Unix ms).
    pub from_ms: i64,
    /// End of the period, exclusive (Unix ms).
    pub to_ms: i64,
    /// When the bundle is made (Unix ms).
    pub generated_at_ms: i64,
    /// The program making it, e.g. `hegui 0.1.0`.
    pub generator: String,
    /// The log's verifier key string.
    pub public_key: String,
    /// The signed checkpoint note every inclusion proof is against.
    pub checkpoint: String,
}

/// What the store still holds of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The canonical encoding and the commitment's salt.
    Present {
        /// Canonical encoding, exactly as committed.
        record: String,
        /// The salt.
        salt: Vec<u8>,
    },
    /// Erased: when, and the reason the purge record gives.
    Erased {
        /// When (Unix ms).
        at_ms: i64,
        /// Why.
        reason: String,
    },
}

/// One leaf to export.
#[derive(Debug, Clone)]
pub struct ExportLeaf {
    /// Leaf index.
    pub index: u64,
    /// Leaf data (`hegui-leaf/1`, UTF-8).
    pub data: String,
    /// Inclusion proof against the header's checkpoint.
    pub proof: Vec<Hash>,
    /// The record's content, as stored.
    pub content: Content,
}

/// One checkpoint of the period, with its consistency proof to the next one pushed (the last
/// one's to the header's checkpoint).
#[derive(Debug, Clone)]
pub struct ExportCheckpoint {
    /// Signed note.
    pub note: String,
    /// When it was issued (Unix ms).
    pub created_at_ms: i64,
    /// Consistency proof to the next checkpoint.
    pub consistency_proof: Vec<Hash>,
}

/// Why a bundle cannot be built (a bug in the exporter or corrupt storage).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Leaves must come in index order without gaps.
    #[error("leaf {got} pushed where leaf {want} was expected: leaves must be contiguous")]
    NotContiguous {
        /// Expected index.
        want: u64,
        /// Pushed index.
        got: u64,
    },
    /// The leaf data is not a `hegui-leaf/1` entry.
    #[error("leaf {index} is not a hegui-leaf/1 entry: {reason}")]
    BadLeaf {
        /// Leaf index.
        index: u64,
        /// Parser message.
        reason: String,
    },
    /// Writing the archive failed.
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding JSON failed.
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Accumulates a bundle's members.
#[derive(Debug)]
pub struct BundleBuilder {
    header: Header,
    period: Period,
    records: Vec<u8>,
    erasures: Vec<u8>,
    checkpoints: Vec<u8>,
    views: Views,
    counts: BTreeMap<String, u64>,
    erased: u64,
    outside: u64,
    range: Option<LeafRange>,
}

impl BundleBuilder {
    /// An empty bundle for the period and checkpoint of `header`.
    pub fn new(header: Header) -> BundleBuilder {
        BundleBuilder {
            period: Period::new(header.from_ms, header.to_ms),
            header,
            records: Vec::new(),
            erasures: Vec::new(),
            checkpoints: Vec::new(),
            views: Views::new(),
            counts: BTreeMap::new(),
            erased: 0,
            outside: 0,
            range: None,
        }
    }

    /// Appends the next leaf of the exported range (content outside the period is withheld).
    pub fn push_leaf(&mut self, leaf: ExportLeaf) -> Result<(), BuildError> {
        if let Some(r) = self.range {
            let want = r.last.saturating_add(1);
            if leaf.index != want {
                return Err(BuildError::NotContiguous {
                    want,
                    got: leaf.index,
                });
            }
        }
        let entry = decode_leaf(&leaf)?;
        let in_period = self.period.contains(entry.at_ms);
        let line = if in_period {
            *self.counts.entry(entry.kind.clone()).or_default() += 1;
            let line = record_line(&leaf, true);
            match &leaf.content {
                Content::Present { record, .. } => {
                    let value = serde_json::from_str(record).unwrap_or(serde_json::Value::Null);
                    self.views.add(leaf.index, &entry, Some(&value));
                }
                Content::Erased { .. } => {
                    self.erased += 1;
                    self.views.add(leaf.index, &entry, None);
                }
            }
            line
        } else {
            self.outside += 1;
            record_line(&leaf, false)
        };
        push_json_line(&mut self.records, &line)?;
        self.range = Some(match self.range {
            Some(r) => LeafRange {
                first: r.first,
                last: leaf.index,
            },
            None => LeafRange {
                first: leaf.index,
                last: leaf.index,
            },
        });
        Ok(())
    }

    /// Adds a `purge` record outside the range that erased content in it.
    pub fn push_erasure(&mut self, leaf: ExportLeaf) -> Result<(), BuildError> {
        decode_leaf(&leaf)?;
        push_json_line(&mut self.erasures, &record_line(&leaf, true))
    }

    /// Appends the next checkpoint of the period (oldest first).
    pub fn push_checkpoint(&mut self, cp: ExportCheckpoint) -> Result<(), BuildError> {
        let line = CheckpointLine {
            note: cp.note,
            created_at_ms: cp.created_at_ms,
            consistency_proof: cp.consistency_proof.iter().map(hex::encode).collect(),
        };
        push_json_line(&mut self.checkpoints, &line)
    }

    /// Writes the archive; returns its manifest.
    pub fn write_to<W: Write>(self, out: W) -> Result<Manifest, BuildError> {
        let mut data: Vec<(&'static str, &[u8])> = vec![
            (members::RECORDS, &self.records),
            (members::ERASURES, &self.erasures),
            (members::CHECKPOINTS, &self.checkpoints),
        ];
        data.extend(self.views.members());
        let manifest = Manifest {
            format: INSPECTION_FORMAT.to_owned(),
            period: self.period.clone(),
            generated_at_ms: self.header.generated_at_ms,
            generated_at: china_time(self.header.generated_at_ms),
            generator: self.header.generator.clone(),
            public_key: self.header.public_key.clone(),
            checkpoint: self.header.checkpoint.clone(),
            leaf_range: self.range,
            counts: self.counts.clone(),
            erased: self.erased,
            outside_period: self.outside,
            members: data
                .iter()
                .map(|(name, bytes)| MemberDigest {
                    name: (*name).to_owned(),
                    bytes: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(bytes)),
                })
                .collect(),
        };
        let mut manifest_json = serde_json::to_vec_pretty(&manifest)?;
        manifest_json.push(b'\n');
        let mtime = u64::try_from(self.header.generated_at_ms / 1000).unwrap_or(0);
        let mut tar = tar::Builder::new(out);
        for (name, bytes) in
            std::iter::once((members::MANIFEST, manifest_json.as_slice())).chain(data)
        {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(mtime);
            tar.append_data(&mut h, name, bytes)?;
        }
        tar.into_inner()?.flush()?;
        Ok(manifest)
    }

    /// The archive as bytes.
    pub fn finish(self) -> Result<Vec<u8>, BuildError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }
}

fn decode_leaf(leaf: &ExportLeaf) -> Result<LeafEntry, BuildError> {
    LeafEntry::decode(leaf.data.as_bytes()).map_err(|e| BuildError::BadLeaf {
        index: leaf.index,
        reason: e.to_string(),
    })
}

fn record_line(leaf: &ExportLeaf, disclose: bool) -> RecordLine {
    let mut line = RecordLine {
        leaf_index: leaf.index,
        leaf_data: leaf.data.clone(),
        inclusion_proof: leaf.proof.iter().map(hex::encode).collect(),
        status: Status::OutsidePeriod,
        record: None,
        salt_hex: None,
        erased_at_ms: None,
        erasure_reason: None,
    };
    if disclose {
        match &leaf.content {
            Content::Present { record, salt } => {
                line.status = Status::Disclosed;
                line.record = Some(record.clone());
                line.salt_hex = Some(hex::encode(salt));
            }
            Content::Erased { at_ms, reason } => {
                line.status = Status::Erased;
                line.erased_at_ms = Some(*at_ms);
                line.erasure_reason = Some(reason.clone());
            }
        }
    }
    line
}

fn push_json_line<T: serde::Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), BuildError> {
    serde_json::to_writer(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}
