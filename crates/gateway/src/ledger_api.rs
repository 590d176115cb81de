//! The log's public endpoints: signed checkpoint, public key, inclusion and consistency proofs.
//! They disclose leaves (record kind, id, time, salted commitment), never record content.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hegui_store::StoreError;
use serde::Deserialize;
use serde_json::json;

use crate::Gateway;

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"message": message.into(), "type": "ledger_error"}})),
    )
        .into_response()
}

fn store_problem(e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => problem(StatusCode::NOT_FOUND, e.to_string()),
        StoreError::Ledger(m) => problem(StatusCode::NOT_FOUND, m),
        other => {
            tracing::error!(error = %other, "ledger endpoint failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log is unavailable; retry shortly",
            )
        }
    }
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `GET /ledger/checkpoint`: the newest signed checkpoint (C2SP signed note).
pub(crate) async fn checkpoint(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.store.latest_checkpoint().await {
        Ok(Some(c)) => text(c.note),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "no checkpoint has been signed yet; retry in a few seconds",
        ),
        Err(e) => store_problem(e),
    }
}

/// `GET /ledger/public-key`: the verifier key string of the checkpoint signer.
pub(crate) async fn public_key(State(gw): State<Arc<Gateway>>) -> Response {
    text(format!("{}\n", gw.ledger_key.key_string()))
}

#[derive(Deserialize)]
pub(crate) struct InclusionQuery {
    record_id: Option<String>,
    leaf_index: Option<u64>,
    tree_size: Option<u64>,
}

/// `GET /ledger/proof/inclusion?record_id=ID[&tree_size=N]` → a proof bundle (no content);
/// `?leaf_index=I&tree_size=N` → the bare audit path.
pub(crate) async fn inclusion(
    State(gw): State<Arc<Gateway>>,
    Query(q): Query<InclusionQuery>,
) -> Response {
    match (q.record_id, q.leaf_index, q.tree_size) {
        (Some(id), None, size) => match gw
            .store
            .proof_bundle(&id, &gw.ledger_key, false, size)
            .await
        {
            Ok(b) => Json(b).into_response(),
            Err(e) => store_problem(e),
        },
        (None, Some(index), Some(size)) => {
            match gw.store.tree_size().await {
                Ok(n) if size > n => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        format!("tree_size {size} exceeds the log's size {n}"),
                    )
                }
                Err(e) => return store_problem(e),
                _ => {}
            }
            match gw.store.inclusion_proof(index, size).await {
                Ok(p) => Json(json!({
                    "leaf_index": index,
                    "tree_size": size,
                    "inclusion_proof": p.iter().map(hex::encode).collect::<Vec<_>>(),
                }))
                .into_response(),
                Err(StoreError::Ledger(m)) => problem(StatusCode::BAD_REQUEST, m),
                Err(e) => store_problem(e),
            }
        }
        _ => problem(
            StatusCode::BAD_REQUEST,
            "give record_id (optionally with tree_size), or leaf_index with tree_size",
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    first: u64,
    second: u64,
}

/// `GET /ledger/proof/consistency?first=M&second=N`.
pub(crate) async fn consistency(
    State(gw): State<Arc<Gateway>>,
    Query(q): Query<ConsistencyQuery>,
) -> Response {
    match gw.store.tree_size().await {
        Ok(n) if q.second > n => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("second={} exceeds the log's size {n}", q.second),
            )
        }
        Err(e) => return store_problem(e),
        _ => {}
    }
    match gw.store.consistency_proof(q.first, q.second).await {
        Ok(p) => Json(json!({
            "first": q.first,
            "second": q.second,
            "consistency_proof": p.iter().map(hex::encode).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(StoreError::Ledger(m)) => problem(StatusCode::BAD_REQUEST, m),
        Err(e) => store_problem(e),
    }
}
