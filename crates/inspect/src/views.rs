//! The CSV views: deterministic functions of the records, so a verifier regenerates them and
//! compares bytes (rules in `INSPECTION_BUNDLE.md`, "CSV views").

use hegui_ledger::LeafEntry;
use serde_json::Value;

use crate::format::{china_time, members};

/// UTF-8 byte order mark: spreadsheet programs on Chinese Windows need it to read UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

const INTERACTIONS: [&str; 13] = [
    "record_id",
    "leaf_index",
    "time",
    "content",
    "user_id",
    "key_id",
    "model",
    "outcome",
    "status",
    "decisions",
    "risks",
    "policy_versions",
    "produce_id",
];
const COMPLAINTS: [&str; 13] = [
    "record_id",
    "leaf_index",
    "time",
    "content",
    "kind",
    "actor",
    "receipt",
    "category",
    "target",
    "from_state",
    "to_state",
    "action",
    "reason",
];
const STAFF_ACTIONS: [&str; 8] = [
    "record_id",
    "leaf_index",
    "time",
    "content",
    "actor",
    "action",
    "target",
    "details",
];
const POLICY_VERSIONS: [&str; 9] = [
    "record_id",
    "leaf_index",
    "time",
    "content",
    "actor",
    "policy_version",
    "lexicons",
    "review",
    "models",
];

/// The four CSV views, built one record at a time in leaf order.
#[derive(Debug)]
pub(crate) struct Views {
    interactions: Vec<u8>,
    complaints: Vec<u8>,
    staff_actions: Vec<u8>,
    policy_versions: Vec<u8>,
}

impl Views {
    pub(crate) fn new() -> Views {
        let start = |header: &[&str]| {
            let mut v = BOM.to_vec();
            let cells: Vec<String> = header.iter().map(|s| (*s).to_owned()).collect();
            push_row(&mut v, &cells);
            v
        };
        Views {
            interactions: start(&INTERACTIONS),
            complaints: start(&COMPLAINTS),
            staff_actions: start(&STAFF_ACTIONS),
            policy_versions: start(&POLICY_VERSIONS),
        }
    }

    /// Adds a record of the period: `content` is its parsed canonical encoding, `None` when
    /// the content was erased.
    pub(crate) fn add(&mut self, leaf_index: u64, leaf: &LeafEntry, content: Option<&Value>) {
        let mut row = vec![
            leaf.id.clone(),
            leaf_index.to_string(),
            china_time(leaf.at_ms),
            if content.is_some() {
                "disclosed"
            } else {
                "erased"
            }
            .to_owned(),
        ];
        let null = Value::Null;
        let c = content.unwrap_or(&null);
        let body = &c["body"];
        let out = match leaf.kind.as_str() {
            "interaction" => {
                row.extend([
                    cell(&c["user_id"]),
                    cell(&c["key_id"]),
                    cell(&c["model"]),
                    cell(&c["outcome"]),
                    cell(&c["status"]),
                ]);
                let decisions = c["decisions"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                row.push(
                    decisions
                        .iter()
                        .map(|d| format!("{}:{}", cell(&d["stage"]), cell(&d["action"])))
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                let mut risks: Vec<String> = Vec::new();
                let mut versions: Vec<String> = Vec::new();
                for d in decisions {
                    for r in d["risks"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                        let r = cell(r);
                        if !risks.contains(&r) {
                            risks.push(r);
                        }
                    }
                    let v = cell(&d["policy_version"]);
                    if !v.is_empty() && !versions.contains(&v) {
                        versions.push(v);
                    }
                }
                row.push(risks.join(";"));
                row.push(versions.join(";"));
                row.push(cell(&c["label"]["ProduceID"]));
                &mut self.interactions
            }
            "complaint" | "complaint_step" => {
                row.push(leaf.kind.clone());
                row.push(cell(&c["actor"]));
                for f in [
                    "receipt",
                    "category",
                    "target",
                    "from_state",
                    "to_state",
                    "action",
                    "reason",
                ] {
                    row.push(cell(&body[f]));
                }
                &mut self.complaints
            }
            "staff_action" => {
                row.push(cell(&c["actor"]));
                for f in ["action", "target", "details"] {
                    row.push(cell(&body[f]));
                }
                &mut self.staff_actions
            }
            "policy_change" => {
                row.push(cell(&c["actor"]));
                for f in ["policy_version", "lexicons", "review", "models"] {
                    row.push(cell(&body[f]));
                }
                &mut self.policy_versions
            }
            _ => return,
        };
        push_row(out, &row);
    }

    /// The views as archive members, in archive order.
    pub(crate) fn members(&self) -> [(&'static str, &[u8]); 4] {
        [
            (members::INTERACTIONS_CSV, &self.interactions),
            (members::COMPLAINTS_CSV, &self.complaints),
            (members::STAFF_ACTIONS_CSV, &self.staff_actions),
            (members::POLICY_VERSIONS_CSV, &self.policy_versions),
        ]
    }
}

/// A JSON value as cell text: strings as they are, `null` or missing as empty, anything else
/// as compact JSON (object keys sorted).
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One CSV field: a leading `= + - @`, tab or CR gets a `'` (so a spreadsheet shows text
/// instead of running a formula); then the field is quoted when it holds a comma, quote, CR
/// or LF or starts or ends with a space, with quotes doubled.
fn field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    let quote = guarded.contains([',', '"', '\r', '\n'])
        || guarded.starts_with(' ')
        || guarded.ends_with(' ');
    if quote {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn push_row(out: &mut Vec<u8>, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.extend_from_slice(line.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_guarded_and_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("-x,y"), "\"'-x,y\"");
        assert_eq!(field(" pad"), "\" pad\"");
        assert_eq!(field("两行\n文本"), "\"两行\n文本\"");
    }

    #[test]
    fn interaction_rows_join_decisions_risks_and_versions() {
        let mut v = Views::new();
        let leaf = LeafEntry::new("interaction", "r1", 0, b"s", b"{}");
        let rec = serde_json::json!({
            "user_id": "usr_1", "key_id": null, "model": "m", "outcome": "served", "status": 200,
            "decisions": [
                {"stage": "input", "action": "flag", "risks": ["A.1", "A.2"], "policy_version": "lex-1"},
                {"stage": "output", "action": "allow", "risks": ["A.1"], "policy_version": "lex-1"}
            ],
            "label": {"ProduceID": "p-1"}
        });
        v.add(7, &leaf, Some(&rec));
        v.add(
            8,
            &LeafEntry::new("interaction", "r2", 0, b"s", b"{}"),
            None,
        );
        let text = String::from_utf8(v.interactions.clone()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("\u{feff}record_id,leaf_index,time,"));
        assert_eq!(
            lines[1],
            "r1,7,1970-01-01T08:00:00.000+08:00,disclosed,usr_1,,m,served,200,input:flag;output:allow,A.1;A.2,lex-1,p-1"
        );
        assert_eq!(
            lines[2],
            "r2,8,1970-01-01T08:00:00.000+08:00,erased,,,,,,,,,"
        );
    }
}
