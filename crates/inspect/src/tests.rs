#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use hegui_ledger::{consistency_proof, inclusion_proof, Checkpoint, LeafEntry, MemoryTree, Signer};
use sha2::{Digest, Sha256};

use crate::format::{members, Manifest};
use crate::{verify, BundleBuilder, Content, ExportCheckpoint, ExportLeaf, Header, Report};

const ORIGIN: &str = "example.com/hegui-test";
const FROM: i64 = 1_000_000;
const TO: i64 = 2_000_000;

struct Rec {
    kind: &'static str,
    id: String,
    at: i64,
    text: String,
    salt: Vec<u8>,
    erased: Option<(i64, String)>,
}

fn rec(i: usize, kind: &'static str, at: i64) -> Rec {
    let id = format!("rec-{i:03}");
    let text = if kind == "interaction" {
        format!(
            r#"{{"v":1,"id":"{id}","received_at_ms":{at},"user_id":"usr_{i}","model":"m","outcome":"served","status":200,"decisions":[{{"stage":"input","action":"flag","risks":["A.1"],"policy_version":"lex-1"}}],"label":{{"ProduceID":"p-{i}"}}}}"#
        )
    } else {
        format!(
            r#"{{"v":1,"kind":"{kind}","id":"{id}","at_ms":{at},"actor":"cli:alice","body":{{"action":"suspend","target":"usr_1","receipt":"R-{i}","reason":"x,y"}}}}"#
        )
    };
    Rec {
        kind,
        id,
        at,
        text,
        salt: vec![i as u8; 16],
        erased: None,
    }
}

struct Fixture {
    signer: Signer,
    bundle: Vec<u8>,
}

/// A log of 20 leaves: 0-2 before the period, 3-15 in it (with an out-of-period leaf 9
/// written late), 16-19 after; leaf 5 erased by purge record 17 (outside the range, so in
/// erasures.jsonl); checkpoints of sizes 6 and 12 issued in the period; final size 20.
fn fixture() -> Fixture {
    let signer = Signer::from_seed(ORIGIN, [7; 32]).unwrap();
    let kinds = [
        "interaction",
        "complaint",
        "staff_action",
        "policy_change",
        "complaint_step",
        "user_event",
    ];
    let mut recs: Vec<Rec> = (0..20)
        .map(|i| {
            let at = match i {
                0..=2 => FROM - 1000 + i as i64,
                9 => FROM - 5,
                16..=19 => TO + i as i64,
                _ => FROM + 1000 * i as i64,
            };
            let kind = if i == 17 {
                "purge"
            } else {
                kinds[i % kinds.len()]
            };
            rec(i, kind, at)
        })
        .collect();
    recs[17].text = format!(
        r#"{{"v":1,"kind":"purge","id":"rec-017","at_ms":{},"actor":"cli:bob","body":{{"reason":"erasure request: PIPL 7","record_ids":["rec-005"]}}}}"#,
        recs[17].at
    );
    let mut tree = MemoryTree::new();
    let mut data = Vec::new();
    for r in &recs {
        let leaf = String::from_utf8(
            LeafEntry::new(r.kind, &r.id, r.at, &r.salt, r.text.as_bytes()).encode(),
        )
        .unwrap();
        tree.append_data(leaf.as_bytes()).unwrap();
        data.push(leaf);
    }
    recs[5].erased = Some((recs[17].at, "erasure request: PIPL 7".into()));
    let note = |size: u64| {
        Checkpoint::new(ORIGIN, size, hegui_ledger::root_at(&tree, size).unwrap())
            .sign(&signer)
            .unwrap()
    };
    let mut b = BundleBuilder::new(Header {
        from_ms: FROM,
        to_ms: TO,
        generated_at_ms: TO + 100_000,
        generator: "hegui test".into(),
        public_key: signer.verifier_string(),
        checkpoint: note(20),
    });
    let leaf = |i: usize| ExportLeaf {
        index: i as u64,
        data: data[i].clone(),
        proof: inclusion_proof(&tree, i as u64, 20).unwrap(),
        content: match &recs[i].erased {
            Some((at, reason)) => Content::Erased {
                at_ms: *at,
                reason: reason.clone(),
            },
            None => Content::Present {
                record: recs[i].text.clone(),
                salt: recs[i].salt.clone(),
            },
        },
    };
    for i in 2..=16 {
        b.push_leaf(leaf(i)).unwrap();
    }
    b.push_erasure(leaf(17)).unwrap();
    for (size, next, at) in [(6, 12, FROM + 10), (12, 20, FROM + 20)] {
        b.push_checkpoint(ExportCheckpoint {
            note: note(size),
            created_at_ms: at,
            consistency_proof: consistency_proof(&tree, size, next).unwrap(),
        })
        .unwrap();
    }
    Fixture {
        signer,
        bundle: b.finish().unwrap(),
    }
}

fn members_of(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bundle);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn archive(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    t.into_inner().unwrap()
}

/// Changes one member with `f`; with `rehash`, also updates the manifest's digest of it, so
/// only the deeper checks can notice.
fn tamper(bundle: &[u8], member: &str, rehash: bool, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut ms = members_of(bundle);
    let i = ms.iter().position(|(n, _)| n == member).unwrap();
    f(&mut ms[i].1);
    if rehash && member != members::MANIFEST {
        let mut m: Manifest = serde_json::from_slice(&ms[0].1).unwrap();
        let d = m.members.iter_mut().find(|d| d.name == member).unwrap();
        d.bytes = ms[i].1.len() as u64;
        d.sha256 = hex::encode(Sha256::digest(&ms[i].1));
        ms[0].1 = serde_json::to_vec_pretty(&m).unwrap();
    }
    archive(&ms)
}

fn edit_text(member: &mut Vec<u8>, from: &str, to: &str) {
    let s = String::from_utf8(member.clone()).unwrap();
    assert!(s.contains(from), "{from:?} not in member");
    *member = s.replacen(from, to, 1).into_bytes();
}

fn check(f: &Fixture, bundle: &[u8]) -> Report {
    verify(bundle, &f.signer.verifier()).unwrap()
}

fn has(report: &Report, member: &str, record: Option<&str>, text: &str) -> bool {
    report.problems.iter().any(|p| {
        p.member == member
            && p.message.contains(text)
            && (record.is_none() || p.record.as_deref() == record)
    })
}

#[test]
fn a_bundle_round_trips_and_verifies() {
    let f = fixture();
    let r = check(&f, &f.bundle);
    assert!(r.is_ok(), "{:#?}", r.problems);
    assert_eq!(r.leaves, 15);
    assert_eq!(r.outside_period, 3); // leaves 2, 9, 16
    assert_eq!(r.erased, 1);
    assert_eq!(r.erasures_confirmed, 1);
    assert_eq!(r.supporting_purges, 1);
    assert_eq!(r.checkpoints, 2);
    assert_eq!(r.tree_size, Some(20));
    assert_eq!(r.counts.values().sum::<u64>(), 12);
    assert_eq!(r.counts["interaction"], 2);
    let ms = members_of(&f.bundle);
    let names: Vec<&str> = ms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], members::MANIFEST);
    assert_eq!(&names[1..], members::DATA);
    let csv = String::from_utf8(ms[4].1.clone()).unwrap();
    assert!(
        csv.contains("rec-006,6,") && csv.contains("usr_6") && csv.contains("p-6"),
        "{csv}"
    );
    assert!(csv.contains("input:flag,A.1,lex-1"), "{csv}");
    // Content outside the period is withheld.
    let records = String::from_utf8(ms[1].1.clone()).unwrap();
    assert!(
        !records.contains("usr_9\\\"") && !records.contains("R-16"),
        "{records}"
    );
    assert!(records.lines().nth(7).unwrap().contains("outside_period"));
}

#[test]
fn another_key_fails_everywhere_it_signs() {
    let f = fixture();
    let other = Signer::from_seed(ORIGIN, [8; 32]).unwrap();
    let r = verify(&f.bundle, &other.verifier()).unwrap();
    assert!(has(&r, members::MANIFEST, None, "not the trusted key"));
    assert!(has(
        &r,
        members::MANIFEST,
        None,
        "does not verify under the trusted key"
    ));
    assert!(has(
        &r,
        members::CHECKPOINTS,
        None,
        "does not verify under the trusted key"
    ));
}

#[test]
fn an_altered_record_is_named_with_its_member_and_id() {
    let f = fixture();
    // Without fixing the manifest: the member hash catches it, and so does the commitment.
    let t = tamper(&f.bundle, members::RECORDS, false, |m| {
        edit_text(m, "usr_6", "usr_X")
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, None, "SHA-256"),
        "{:#?}",
        r.problems
    );
    assert!(
        has(&r, members::RECORDS, Some("rec-006"), "altered"),
        "{:#?}",
        r.problems
    );
    // With the manifest fixed, the commitment still names the record (and the CSV differs).
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        edit_text(m, "usr_6", "usr_X")
    });
    let r = check(&f, &t);
    assert!(!has(&r, members::RECORDS, None, "SHA-256"));
    assert!(
        has(&r, members::RECORDS, Some("rec-006"), "altered"),
        "{:#?}",
        r.problems
    );
    assert!(
        has(&r, members::INTERACTIONS_CSV, Some("rec-006"), "differs"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn a_left_out_leaf_or_withheld_record_is_caught() {
    let f = fixture();
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let kept: Vec<&str> = s.lines().filter(|l| !l.contains("rec-010")).collect();
        *m = format!("{}\n", kept.join("\n")).into_bytes();
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, None, "where leaf 10 was expected"),
        "{:#?}",
        r.problems
    );
    assert!(
        has(&r, members::MANIFEST, None, "counts"),
        "{:#?}",
        r.problems
    );

    // Claiming an in-period record is outside the period.
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let out: Vec<String> = s
            .lines()
            .map(|l| {
                if l.contains(r#"\"id\":\"rec-011\""#) {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let o = v.as_object_mut().unwrap();
                    o.remove("record");
                    o.remove("salt_hex");
                    o.insert("status".into(), "outside_period".into());
                    v.to_string()
                } else {
                    l.to_owned()
                }
            })
            .collect();
        *m = format!("{}\n", out.join("\n")).into_bytes();
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, Some("rec-011"), "withheld"),
        "{:#?}",
        r.problems
    );

    // Dropping the leading context leaf: the start of the range is no longer shown.
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let (_, rest) = s.split_once('\n').unwrap();
        *m = rest.as_bytes().to_vec();
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, None, "where leaf 2 was expected"),
        "{:#?}",
        r.problems
    );

    // Dropping the trailing context leaf and claiming a shorter range.
    let mut ms = members_of(&f.bundle);
    let s = String::from_utf8(ms[1].1.clone()).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    ms[1].1 = format!("{}\n", lines[..lines.len() - 1].join("\n")).into_bytes();
    let mut m: Manifest = serde_json::from_slice(&ms[0].1).unwrap();
    m.leaf_range.as_mut().unwrap().last = 15;
    m.outside_period -= 1;
    m.members[0].bytes = ms[1].1.len() as u64;
    m.members[0].sha256 = hex::encode(Sha256::digest(&ms[1].1));
    ms[0].1 = serde_json::to_vec_pretty(&m).unwrap();
    let r = check(&f, &archive(&ms));
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert!(
        has(&r, members::RECORDS, None, "must end with the leaf after"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn a_bad_inclusion_proof_is_named() {
    let f = fixture();
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let line = s.lines().nth(4).unwrap(); // leaf 6
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let h = v["inclusion_proof"][0].as_str().unwrap().to_owned();
        let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
        *m = s.replacen(&h, &flipped, 1).into_bytes();
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, Some("rec-006"), "not proven"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn checkpoints_are_checked_for_signature_and_consistency() {
    let f = fixture();
    let t = tamper(&f.bundle, members::CHECKPOINTS, true, |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(s.lines().next().unwrap()).unwrap();
        let h = v["consistency_proof"][0].as_str().unwrap().to_owned();
        *m = s.replacen(&h, &"ab".repeat(32), 1).into_bytes();
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::CHECKPOINTS, None, "not a prefix"),
        "{:#?}",
        r.problems
    );
    assert_eq!(r.problems[0].line, Some(1));

    let t = tamper(&f.bundle, members::CHECKPOINTS, true, |m| {
        edit_text(m, "\\n12\\n", "\\n13\\n")
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::CHECKPOINTS, None, "does not verify"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn erasures_must_be_backed_by_their_purge_record() {
    let f = fixture();
    let t = tamper(&f.bundle, members::ERASURES, true, |m| m.clear());
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, Some("rec-005"), "no purge record"),
        "{:#?}",
        r.problems
    );
    let t = tamper(&f.bundle, members::RECORDS, true, |m| {
        edit_text(m, "PIPL 7", "PIPL 8")
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::RECORDS, Some("rec-005"), "no purge record"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn csv_views_must_agree_with_the_records() {
    let f = fixture();
    for (member, from, to, id) in [
        (members::INTERACTIONS_CSV, "usr_12", "usr_99", "rec-012"),
        (members::COMPLAINTS_CSV, "R-7", "R-8", "rec-007"),
        (
            members::STAFF_ACTIONS_CSV,
            "suspend",
            "unsuspend",
            "rec-008",
        ),
        (
            members::POLICY_VERSIONS_CSV,
            "rec-003",
            "rec-004",
            "rec-003",
        ),
    ] {
        let t = tamper(&f.bundle, member, true, |m| edit_text(m, from, to));
        let r = check(&f, &t);
        assert_eq!(r.problems.len(), 1, "{member}: {:#?}", r.problems);
        assert!(
            has(&r, member, Some(id), "differs"),
            "{member}: {:#?}",
            r.problems
        );
    }
}

#[test]
fn manifest_counts_and_member_list_are_checked() {
    let f = fixture();
    let t = tamper(&f.bundle, members::MANIFEST, false, |m| {
        edit_text(m, "\"interaction\": 2", "\"interaction\": 3")
    });
    let r = check(&f, &t);
    assert!(
        has(&r, members::MANIFEST, None, "counts"),
        "{:#?}",
        r.problems
    );
    let mut ms = members_of(&f.bundle);
    ms.push(("extra.txt".into(), b"hi".to_vec()));
    ms.remove(2);
    let r = check(&f, &archive(&ms));
    assert!(
        has(&r, "archive", None, "unexpected member extra.txt"),
        "{:#?}",
        r.problems
    );
    assert!(
        has(&r, members::ERASURES, None, "missing"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn garbage_and_truncation_are_errors_not_panics() {
    let f = fixture();
    let key = f.signer.verifier();
    assert!(verify(b"", &key).is_err());
    assert!(verify(b"not a tar file at all, just text", &key).is_err());
    assert!(verify(&[0xff; 4096], &key).is_err());
    // Cut anywhere before the end-of-archive marker (two zero blocks): content is lost.
    for cut in (0..f.bundle.len() - 1024).step_by(211) {
        if let Ok(r) = verify(&f.bundle[..cut], &key) {
            assert!(!r.is_ok(), "truncated at {cut} verified");
        }
    }
    // Random byte changes anywhere: never a panic (a change in tar padding may go unnoticed).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = f.bundle.clone();
        let i = (x as usize) % b.len();
        b[i] ^= ((x >> 32) as u8) | 1;
        let _ = verify(&b, &key);
    }
}

#[test]
fn flipping_a_byte_inside_any_member_fails_verification() {
    let f = fixture();
    let ms = members_of(&f.bundle);
    for (name, data) in &ms {
        // A byte in the middle of each member's data, as it lies in the archive.
        let pos = f
            .bundle
            .windows(data.len().min(64))
            .position(|w| w == &data[..data.len().min(64)])
            .unwrap();
        let mut b = f.bundle.clone();
        b[pos + data.len().min(64) / 2] ^= 0x01;
        match verify(&b, &f.signer.verifier()) {
            Ok(r) => assert!(!r.is_ok(), "{name}: a flipped byte went unnoticed"),
            Err(_) => assert_eq!(name, members::MANIFEST),
        }
    }
}
