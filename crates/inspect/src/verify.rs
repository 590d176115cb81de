//! The offline verifier: every check of `INSPECTION_BUNDLE.md` ("Verifying"), keeping on
//! after a problem so the report names all of them with their member, line and record.
//!
//! Memory stays proportional to the input: members are slices of it, records are checked one
//! line at a time, and what is kept per line (a period flag, erasures to match, the CSV rows
//! being regenerated) is bounded by the line's own size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use hegui_ledger::{
    commitment, leaf_hash, verify_consistency, verify_inclusion, Checkpoint, Hash, LeafEntry,
    Verifier, LEAF_FORMAT,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::format::{
    china_time, members, CheckpointLine, LeafRange, Manifest, Period, RecordLine, Status,
    INSPECTION_FORMAT,
};
use crate::views::Views;

/// One thing that does not add up, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The member (`records.jsonl`, `manifest.json`, …) or `archive`.
    pub member: String,
    /// 1-based line in the member, when the problem is on one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The record concerned, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.member)?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        if let Some(r) = &self.record {
            write!(f, " (record {r})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What `verify` checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The period the bundle claims.
    pub period: Option<Period>,
    /// Size of the checkpoint the proofs are against.
    pub tree_size: Option<u64>,
    /// The exported leaf range.
    pub leaf_range: Option<LeafRange>,
    /// Leaves checked in `records.jsonl`.
    pub leaves: u64,
    /// Records of the period per kind.
    pub counts: BTreeMap<String, u64>,
    /// Records of the period whose content was checked against their leaf.
    pub disclosed: u64,
    /// Records of the period whose content was erased.
    pub erased: u64,
    /// Erasures matched with the `purge` record that made them.
    pub erasures_confirmed: u64,
    /// Erasures whose `purge` record's content is itself erased (cannot be matched).
    pub erasures_unconfirmable: u64,
    /// Leaves in the range outside the period.
    pub outside_period: u64,
    /// `purge` records in `erasures.jsonl`.
    pub supporting_purges: u64,
    /// Checkpoints of the period checked (signature and consistency).
    pub checkpoints: u64,
    /// Every problem; empty means the bundle verifies.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Why a file is not an inspection bundle at all (nothing else can be checked).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Not a readable tar archive (garbage, truncated).
    #[error("not a readable tar archive: {0}")]
    Archive(String),
    /// No `manifest.json` member.
    #[error("the archive has no manifest.json: not an inspection bundle")]
    NoManifest,
    /// The manifest does not parse.
    #[error("manifest.json is not a hegui-inspection/1 manifest: {0}")]
    Manifest(String),
    /// Another format.
    #[error("unsupported bundle format {0:?} (this verifier reads hegui-inspection/1)")]
    UnsupportedFormat(String),
}

struct Checker<'a> {
    report: Report,
    trusted: &'a Verifier,
    period: Period,
    checkpoint: Option<Checkpoint>,
    views: Views,
    /// Disclosed purge records: at_ms → (reason, erased ids).
    purges: HashMap<i64, Vec<(String, HashSet<String>)>>,
    /// Times of purge records whose own content is erased.
    erased_purges: HashSet<i64>,
    /// Erased records of the period: (line, id, erased_at_ms, reason).
    to_confirm: Vec<(u64, String, i64, String)>,
}

impl Checker<'_> {
    fn problem(&mut self, member: &str, line: Option<u64>, record: Option<&str>, message: String) {
        self.report.problems.push(Problem {
            member: member.to_owned(),
            line,
            record: record.map(str::to_owned),
            message,
        });
    }
}

/// Checks a bundle against the log key the caller trusts (never the one the bundle names).
pub fn verify(bundle: &[u8], trusted: &Verifier) -> Result<Report, InspectError> {
    let (entries, mut archive_problems) = read_archive(bundle)?;
    let mut files: HashMap<&str, &[u8]> = HashMap::new();
    for (i, (name, data)) in entries.iter().enumerate() {
        if name == members::MANIFEST && i != 0 {
            archive_problems.push(format!("{} is member {} instead of the first", name, i + 1));
        }
        if files.insert(name.as_str(), data.as_slice()).is_some() {
            archive_problems.push(format!("member {name} appears more than once"));
        }
    }
    let manifest_bytes = files
        .get(members::MANIFEST)
        .ok_or(InspectError::NoManifest)?;
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| InspectError::Manifest(e.to_string()))?;
    if manifest.format != INSPECTION_FORMAT {
        return Err(InspectError::UnsupportedFormat(manifest.format));
    }
    let mut c = Checker {
        report: Report {
            period: Some(manifest.period.clone()),
            leaf_range: manifest.leaf_range,
            ..Report::default()
        },
        trusted,
        period: manifest.period.clone(),
        checkpoint: None,
        views: Views::new(),
        purges: HashMap::new(),
        erased_purges: HashSet::new(),
        to_confirm: Vec::new(),
    };
    for p in archive_problems {
        c.problem("archive", None, None, p);
    }
    check_manifest(&mut c, &manifest, &files);
    let empty: &[u8] = &[];
    let get = |name: &str| files.get(name).copied().unwrap_or(empty);
    check_records(&mut c, &manifest, get(members::RECORDS));
    check_erasures(&mut c, get(members::ERASURES));
    confirm_erasures(&mut c);
    check_checkpoints(&mut c, get(members::CHECKPOINTS));
    check_totals(&mut c, &manifest);
    let views = std::mem::replace(&mut c.views, Views::new());
    for (name, expected) in views.members() {
        compare_csv(&mut c, name, expected, get(name));
    }
    Ok(c.report)
}

/// The members, in order, and problems with the archive's structure.
#[allow(clippy::type_complexity)]
fn read_archive(bundle: &[u8]) -> Result<(Vec<(String, Vec<u8>)>, Vec<String>), InspectError> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(bundle);
    let entries = archive
        .entries()
        .map_err(|e| InspectError::Archive(e.to_string()))?;
    let mut end: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| InspectError::Archive(e.to_string()))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "(unreadable name)".to_owned());
        let kind = entry.header().entry_type();
        let size = entry.size();
        if size > bundle.len() as u64 {
            return Err(InspectError::Archive(format!(
                "member {name} claims {size} bytes, more than the whole file"
            )));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| InspectError::Archive(format!("reading member {name}: {e}")))?;
        end = entry
            .raw_file_position()
            .saturating_add(size.div_ceil(512).saturating_mul(512));
        if !kind.is_file() {
            problems.push(format!(
                "member {name} is not a regular file (tar type {:?})",
                kind.as_byte() as char
            ));
            continue;
        }
        if name != members::MANIFEST && !members::DATA.contains(&name.as_str()) {
            problems.push(format!("unexpected member {name}"));
        }
        out.push((name, data));
    }
    let tail = usize::try_from(end)
        .ok()
        .and_then(|e| bundle.get(e..))
        .unwrap_or(&[]);
    if tail.iter().any(|&b| b != 0) {
        problems.push("non-zero bytes after the last member".to_owned());
    }
    Ok((out, problems))
}

fn check_manifest(c: &mut Checker<'_>, m: &Manifest, files: &HashMap<&str, &[u8]>) {
    let mm = members::MANIFEST;
    let p = &m.period;
    if p.from_ms >= p.to_ms {
        c.problem(
            mm,
            None,
            None,
            format!(
                "empty period: from {} is not before to {}",
                p.from_ms, p.to_ms
            ),
        );
    }
    if p.from != china_time(p.from_ms) || p.to != china_time(p.to_ms) {
        c.problem(
            mm,
            None,
            None,
            "period text does not match from_ms/to_ms".to_owned(),
        );
    }
    if m.generated_at != china_time(m.generated_at_ms) {
        c.problem(
            mm,
            None,
            None,
            "generated_at does not match generated_at_ms".to_owned(),
        );
    }
    if m.public_key != c.trusted.key_string() {
        c.problem(
            mm,
            None,
            None,
            format!(
                "the bundle names log key {:?}, not the trusted key {:?}: checked against the trusted key",
                m.public_key,
                c.trusted.key_string()
            ),
        );
    }
    match Checkpoint::open(&m.checkpoint, c.trusted) {
        Ok(cp) => {
            c.report.tree_size = Some(cp.size);
            c.checkpoint = Some(cp);
        }
        Err(e) => c.problem(
            mm,
            None,
            None,
            format!("the checkpoint does not verify under the trusted key, so no inclusion or consistency proof can be checked: {e}"),
        ),
    }
    let listed: Vec<&str> = m.members.iter().map(|d| d.name.as_str()).collect();
    if listed != members::DATA {
        c.problem(
            mm,
            None,
            None,
            format!("members lists {listed:?}, expected {:?}", members::DATA),
        );
    }
    for d in &m.members {
        match files.get(d.name.as_str()) {
            None => c.problem(
                &d.name,
                None,
                None,
                "listed in the manifest but missing from the archive".to_owned(),
            ),
            Some(data) => {
                if data.len() as u64 != d.bytes {
                    c.problem(
                        &d.name,
                        None,
                        None,
                        format!("{} bytes, the manifest says {}", data.len(), d.bytes),
                    );
                }
                let sha = hex::encode(Sha256::digest(data));
                if !sha.eq_ignore_ascii_case(&d.sha256) {
                    c.problem(&d.name, None, None, format!("SHA-256 {sha} does not match the manifest's {}: the member was altered", d.sha256));
                }
            }
        }
    }
    for name in members::DATA {
        if files.contains_key(name) && !listed.contains(&name) {
            c.problem(
                name,
                None,
                None,
                "in the archive but not listed in the manifest".to_owned(),
            );
        }
    }
}

/// The lines of a JSON-lines member (each ends in `\n`), numbered from 1.
fn jsonl<'a>(c: &mut Checker<'_>, member: &str, data: &'a [u8]) -> Vec<(u64, &'a [u8])> {
    let mut out = Vec::new();
    if data.is_empty() {
        return out;
    }
    let body = match data.strip_suffix(b"\n") {
        Some(b) => b,
        None => {
            c.problem(
                member,
                None,
                None,
                "does not end with a newline: truncated".to_owned(),
            );
            data
        }
    };
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        out.push((i as u64 + 1, line));
    }
    out
}

fn decode_hashes(list: &[String]) -> Result<Vec<Hash>, String> {
    list.iter()
        .enumerate()
        .map(|(i, h)| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out)
                .map_err(|e| format!("proof hash {i} is not 64 hex digits: {e}"))?;
            Ok(out)
        })
        .collect()
}

/// Checks one line's leaf, proof and content; returns the leaf and the parsed content.
fn check_line(
    c: &mut Checker<'_>,
    member: &str,
    no: u64,
    line: &RecordLine,
) -> Option<(LeafEntry, Option<Value>)> {
    let entry = match LeafEntry::decode(line.leaf_data.as_bytes()) {
        Ok(e) if e.format == LEAF_FORMAT => Some(e),
        Ok(e) => {
            c.problem(
                member,
                Some(no),
                Some(&e.id),
                format!("leaf format {:?} is not {LEAF_FORMAT}", e.format),
            );
            None
        }
        Err(e) => {
            c.problem(
                member,
                Some(no),
                None,
                format!(
                    "leaf {} data is not a {LEAF_FORMAT} entry: {e}",
                    line.leaf_index
                ),
            );
            None
        }
    };
    let id = entry.as_ref().map(|e| e.id.clone());
    let id = id.as_deref();
    if let Some(cp) = &c.checkpoint {
        let (size, root) = (cp.size, cp.root);
        match decode_hashes(&line.inclusion_proof) {
            Err(e) => c.problem(
                member,
                Some(no),
                id,
                format!("inclusion proof of leaf {}: {e}", line.leaf_index),
            ),
            Ok(proof) => {
                let leaf = leaf_hash(line.leaf_data.as_bytes());
                if let Err(e) = verify_inclusion(&leaf, line.leaf_index, size, &proof, &root) {
                    c.problem(
                        member,
                        Some(no),
                        id,
                        format!(
                            "leaf {} is not proven in the checkpoint of size {size}: {e}",
                            line.leaf_index
                        ),
                    );
                }
            }
        }
    }
    let entry = entry?;
    let fields = (
        line.record.as_ref(),
        line.salt_hex.as_ref(),
        line.erased_at_ms,
        line.erasure_reason.as_ref(),
    );
    let content = match (line.status, fields) {
        (Status::Disclosed, (Some(record), Some(salt), None, None)) => {
            match hex::decode(salt) {
                Err(e) => c.problem(member, Some(no), id, format!("salt_hex is not hex: {e}")),
                Ok(salt) => {
                    let got = hex::encode(commitment(&salt, record.as_bytes()));
                    if !got.eq_ignore_ascii_case(&entry.commitment) {
                        c.problem(
                            member,
                            Some(no),
                            id,
                            "the record and salt do not match the leaf's commitment: the record was altered".to_owned(),
                        );
                    }
                }
            }
            let value = match serde_json::from_str::<Value>(record) {
                Ok(v) => {
                    check_identity(c, member, no, &entry, &v);
                    v
                }
                Err(e) => {
                    c.problem(member, Some(no), id, format!("the record is not JSON: {e}"));
                    Value::Null
                }
            };
            Some(value)
        }
        (Status::Erased, (None, None, Some(_), Some(_)))
        | (Status::OutsidePeriod, (None, None, None, None)) => None,
        (status, _) => {
            let want = match status {
                Status::Disclosed => "record and salt_hex, without erasure fields",
                Status::Erased => "erased_at_ms and erasure_reason, without record or salt",
                Status::OutsidePeriod => "no record, salt or erasure fields",
            };
            c.problem(
                member,
                Some(no),
                id,
                format!("status {} needs {want}", status.as_str()),
            );
            None
        }
    };
    Some((entry, content))
}

/// The disclosed record must be the one its leaf names: same id, kind and time.
fn check_identity(c: &mut Checker<'_>, member: &str, no: u64, entry: &LeafEntry, v: &Value) {
    let (kind, at) = if entry.kind == "interaction" {
        (Some("interaction"), v["received_at_ms"].as_i64())
    } else {
        (v["kind"].as_str(), v["at_ms"].as_i64())
    };
    if v["id"].as_str() != Some(entry.id.as_str())
        || kind != Some(entry.kind.as_str())
        || at != Some(entry.at_ms)
    {
        c.problem(
            member,
            Some(no),
            Some(&entry.id),
            "the record's id, kind or time differ from its leaf's".to_owned(),
        );
    }
}

fn check_records(c: &mut Checker<'_>, m: &Manifest, data: &[u8]) {
    let member = members::RECORDS;
    let lines = jsonl(c, member, data);
    let Some(range) = m.leaf_range else {
        if !lines.is_empty() {
            c.problem(
                member,
                None,
                None,
                "the manifest has no leaf range but the member has lines".to_owned(),
            );
        }
        return;
    };
    if range.first > range.last {
        c.problem(
            members::MANIFEST,
            None,
            None,
            format!("leaf range {}..{} is reversed", range.first, range.last),
        );
    }
    let mut expected = range.first;
    let mut in_period: Vec<bool> = Vec::with_capacity(lines.len());
    for (no, text) in lines {
        let line: RecordLine = match serde_json::from_slice(text) {
            Ok(l) => l,
            Err(e) => {
                c.problem(member, Some(no), None, format!("not a record line: {e}"));
                in_period.push(false);
                expected = expected.saturating_add(1);
                continue;
            }
        };
        c.report.leaves += 1;
        if line.leaf_index != expected {
            c.problem(
                member,
                Some(no),
                None,
                format!("leaf {} where leaf {expected} was expected: a leaf is missing, repeated or out of order", line.leaf_index),
            );
        }
        expected = line.leaf_index.saturating_add(1);
        let Some((entry, content)) = check_line(c, member, no, &line) else {
            in_period.push(false);
            continue;
        };
        let inside = c.period.contains(entry.at_ms);
        in_period.push(inside);
        match (inside, line.status) {
            (true, Status::OutsidePeriod) => c.problem(
                member,
                Some(no),
                Some(&entry.id),
                "the record lies in the period but its content is withheld as outside it"
                    .to_owned(),
            ),
            (false, Status::Disclosed | Status::Erased) => c.problem(
                member,
                Some(no),
                Some(&entry.id),
                "the record lies outside the period but is exported as part of it".to_owned(),
            ),
            (false, Status::OutsidePeriod) => c.report.outside_period += 1,
            (true, status) => {
                *c.report.counts.entry(entry.kind.clone()).or_default() += 1;
                if status == Status::Erased {
                    c.report.erased += 1;
                    if let (Some(at), Some(reason)) = (line.erased_at_ms, &line.erasure_reason) {
                        c.to_confirm
                            .push((no, entry.id.clone(), at, reason.clone()));
                    }
                } else {
                    c.report.disclosed += 1;
                }
                c.views.add(line.leaf_index, &entry, content.as_ref());
            }
        }
        if let Some(v) = &content {
            note_purge(c, &entry, v);
        } else if entry.kind == "purge" && line.status == Status::Erased {
            c.erased_purges.insert(entry.at_ms);
        }
    }
    if expected != range.last.saturating_add(1) {
        c.problem(
            member,
            None,
            None,
            format!(
                "ends before leaf {}, the manifest's range ends at leaf {}",
                expected, range.last
            ),
        );
    }
    check_boundaries(c, range, &in_period);
}

/// The range is the period's records plus exactly one leaf on each side, where the log has one.
fn check_boundaries(c: &mut Checker<'_>, range: LeafRange, in_period: &[bool]) {
    let member = members::RECORDS;
    let n = in_period.len();
    let at = |i: usize| in_period.get(i).copied().unwrap_or(false);
    if !in_period.iter().any(|&b| b) {
        c.problem(
            member,
            None,
            None,
            "no record of the period in the range".to_owned(),
        );
        return;
    }
    let Some(size) = c.report.tree_size else {
        return;
    };
    // An out-of-period line at either end is the one leaf of context, and must be followed
    // (preceded) by a record of the period; an in-period line at an end must be the log's end.
    if at(0) && range.first > 0 {
        c.problem(
            member,
            Some(1),
            None,
            "the range must start with the leaf before the period's first record (leaves before it may belong to the period)".to_owned(),
        );
    }
    if !at(0) && !at(1) {
        c.problem(
            member,
            Some(1),
            None,
            "the range must start with one leaf of context, then a record of the period".to_owned(),
        );
    }
    let last_is_end = range.last.saturating_add(1) >= size;
    if n > 0 && at(n - 1) && !last_is_end {
        c.problem(
            member,
            Some(n as u64),
            None,
            "the range must end with the leaf after the period's last record (leaves after it may belong to the period)".to_owned(),
        );
    }
    if n > 0 && !at(n - 1) && (n < 2 || !at(n - 2)) {
        c.problem(
            member,
            Some(n as u64),
            None,
            "the range must end with a record of the period, then one leaf of context".to_owned(),
        );
    }
}

fn note_purge(c: &mut Checker<'_>, entry: &LeafEntry, v: &Value) {
    if entry.kind != "purge" {
        return;
    }
    let reason = v["body"]["reason"].as_str().unwrap_or_default().to_owned();
    let ids: HashSet<String> = v["body"]["record_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    c.purges.entry(entry.at_ms).or_default().push((reason, ids));
}

fn check_erasures(c: &mut Checker<'_>, data: &[u8]) {
    let member = members::ERASURES;
    for (no, text) in jsonl(c, member, data) {
        let line: RecordLine = match serde_json::from_slice(text) {
            Ok(l) => l,
            Err(e) => {
                c.problem(member, Some(no), None, format!("not a record line: {e}"));
                continue;
            }
        };
        c.report.supporting_purges += 1;
        let Some((entry, content)) = check_line(c, member, no, &line) else {
            continue;
        };
        if entry.kind != "purge" || line.status == Status::OutsidePeriod {
            c.problem(
                member,
                Some(no),
                Some(&entry.id),
                "only purge records, disclosed or erased, belong here".to_owned(),
            );
        }
        match &content {
            Some(v) => note_purge(c, &entry, v),
            None => {
                c.erased_purges.insert(entry.at_ms);
            }
        }
    }
}

fn confirm_erasures(c: &mut Checker<'_>) {
    for (no, id, at, reason) in std::mem::take(&mut c.to_confirm) {
        let found = c.purges.get(&at).is_some_and(|list| {
            list.iter()
                .any(|(r, ids)| *r == reason && ids.contains(&id))
        });
        if found {
            c.report.erasures_confirmed += 1;
        } else if c.erased_purges.contains(&at) {
            c.report.erasures_unconfirmable += 1;
        } else {
            c.problem(
                members::RECORDS,
                Some(no),
                Some(&id),
                format!("erased at {at} for {reason:?}, but no purge record in the bundle records that erasure"),
            );
        }
    }
}

fn check_checkpoints(c: &mut Checker<'_>, data: &[u8]) {
    let member = members::CHECKPOINTS;
    let mut parsed: Vec<(u64, Option<Checkpoint>, Option<Vec<Hash>>)> = Vec::new();
    for (no, text) in jsonl(c, member, data) {
        let line: CheckpointLine = match serde_json::from_slice(text) {
            Ok(l) => l,
            Err(e) => {
                c.problem(
                    member,
                    Some(no),
                    None,
                    format!("not a checkpoint line: {e}"),
                );
                continue;
            }
        };
        c.report.checkpoints += 1;
        if !c.period.contains(line.created_at_ms) {
            c.problem(
                member,
                Some(no),
                None,
                format!("issued at {} ms, outside the period", line.created_at_ms),
            );
        }
        let cp = match Checkpoint::open(&line.note, c.trusted) {
            Ok(cp) => Some(cp),
            Err(e) => {
                c.problem(
                    member,
                    Some(no),
                    None,
                    format!("the checkpoint does not verify under the trusted key: {e}"),
                );
                None
            }
        };
        let proof = match decode_hashes(&line.consistency_proof) {
            Ok(p) => Some(p),
            Err(e) => {
                c.problem(member, Some(no), None, format!("consistency proof: {e}"));
                None
            }
        };
        parsed.push((no, cp, proof));
    }
    let last = c.checkpoint.clone();
    for i in 0..parsed.len() {
        let next = match parsed.get(i + 1) {
            Some((_, cp, _)) => cp.clone(),
            None => last.clone(),
        };
        let (no, Some(old), Some(proof)) = &parsed[i] else {
            continue;
        };
        let Some(new) = next else {
            continue;
        };
        if parsed.get(i + 1).is_some() && old.size >= new.size {
            c.problem(
                member,
                Some(*no),
                None,
                format!(
                    "checkpoints must grow: size {} is followed by {}",
                    old.size, new.size
                ),
            );
            continue;
        }
        if let Err(e) = verify_consistency(old.size, new.size, &old.root, &new.root, proof) {
            c.problem(
                member,
                Some(*no),
                None,
                format!(
                    "the checkpoint of size {} is not a prefix of the next one of size {}: {e}",
                    old.size, new.size
                ),
            );
        }
    }
}

fn check_totals(c: &mut Checker<'_>, m: &Manifest) {
    let mm = members::MANIFEST;
    if m.counts != c.report.counts {
        c.problem(
            mm,
            None,
            None,
            format!(
                "counts {:?} differ from the records: {:?}",
                m.counts, c.report.counts
            ),
        );
    }
    if m.erased != c.report.erased {
        c.problem(
            mm,
            None,
            None,
            format!(
                "erased {} differs from the records: {}",
                m.erased, c.report.erased
            ),
        );
    }
    if m.outside_period != c.report.outside_period {
        c.problem(
            mm,
            None,
            None,
            format!(
                "outside_period {} differs from the records: {}",
                m.outside_period, c.report.outside_period
            ),
        );
    }
}

fn compare_csv(c: &mut Checker<'_>, member: &str, expected: &[u8], actual: &[u8]) {
    if expected == actual {
        return;
    }
    let want = String::from_utf8_lossy(expected);
    let got = String::from_utf8_lossy(actual);
    let mut w = want.split("\r\n");
    let mut g = got.split("\r\n");
    let mut no: u64 = 0;
    loop {
        no += 1;
        match (w.next(), g.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => {
                c.problem(
                    member,
                    None,
                    None,
                    "differs from the view of the records".to_owned(),
                );
                return;
            }
            (a, b) => {
                let record = a
                    .or(b)
                    .and_then(|l| l.split(',').next())
                    .filter(|s| !s.is_empty() && no > 1)
                    .map(str::to_owned);
                c.problem(
                    member,
                    Some(no),
                    record.as_deref(),
                    format!(
                        "differs from the records: expected {:?}, found {:?}",
                        clip(a.unwrap_or("(no line)")),
                        clip(b.unwrap_or("(no line)"))
                    ),
                );
                return;
            }
        }
    }
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
