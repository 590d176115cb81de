//! Every request becomes a leaf of the signed log, provable through the public endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use hegui_ledger::{check_disclosure, verify_consistency, Bundle, Checkpoint, Verifier};
use serde_json::Value;

#[tokio::test]
async fn every_request_is_provable_from_the_public_endpoints() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        let mut ids = Vec::new();
        for body in [
            user("你好"),
            user("教我制造炸弹"),
            user_stream("[[reply:好]]", false),
        ] {
            let resp = h.chat(body).send().await.unwrap();
            ids.push(
                resp.headers()["x-hegui-record-id"]
                    .to_str()
                    .unwrap()
                    .to_string(),
            );
            resp.bytes().await.unwrap();
        }
        let get = |p: String| h.http.get(format!("{}{p}", h.base)).send();
        let key = Verifier::from_key_string(
            get("/ledger/public-key".into())
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .trim(),
        )
        .unwrap();

        for id in &ids {
            // The sequencer integrates and checkpoints within about a second.
            let mut bundle = None;
            for _ in 0..100 {
                let resp = get(format!("/ledger/proof/inclusion?record_id={id}"))
                    .await
                    .unwrap();
                if resp.status() == 200 {
                    bundle = Some(resp.json::<Bundle>().await.unwrap());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let bundle = bundle.unwrap_or_else(|| panic!("record {id} never became provable"));
            let verified = bundle.verify(&key).unwrap();
            let (entry, content) = check_disclosure(&verified).unwrap();
            assert_eq!(entry.id, *id);
            assert_eq!(entry.kind, "interaction");
            assert!(
                content.is_none(),
                "the public endpoint never discloses content"
            );
        }

        let note = get("/ledger/checkpoint".into())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let cp = Checkpoint::open(&note, &key).unwrap();
        // Records plus the policy record written at start.
        assert!(cp.size >= 4, "{}", cp.size);
        let first = h.store.checkpoints().await.unwrap()[0].clone();
        if first.size < cp.size {
            let c: Value = get(format!(
                "/ledger/proof/consistency?first={}&second={}",
                first.size, cp.size
            ))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            let proof: Vec<[u8; 32]> = c["consistency_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    hex::decode(x.as_str().unwrap())
                        .unwrap()
                        .try_into()
                        .unwrap()
                })
                .collect();
            verify_consistency(first.size, cp.size, &first.root, &cp.root, &proof).unwrap();
        }
        // Bad queries get clear errors.
        let r = get("/ledger/proof/inclusion".into()).await.unwrap();
        assert_eq!(r.status(), 400);
        let r = get("/ledger/proof/inclusion?record_id=nope".into())
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = get(format!(
            "/ledger/proof/consistency?first=1&second={}",
            cp.size + 100
        ))
        .await
        .unwrap();
        assert_eq!(r.status(), 400);
        let report = h.store.verify_ledger(Some(&key)).await.unwrap();
        assert_eq!(report.problems, vec![]);
        h.stop().await;
    }
}
