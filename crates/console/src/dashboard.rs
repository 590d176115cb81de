//! The dashboard, the policy versions in force and the ledger page with proof verification.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_staff::Permission;
use hegui_types::{kinds, JournalEntry};
use maud::html;
use serde::Deserialize;

use crate::auth::{auth, auth_form};
use crate::layout::{bar_chart, console_page, csrf_field, error_page, respond, time};
use crate::workflow::case_error;
use crate::Console;

const DAY_MS: i64 = 86_400_000;

/// GET /console
pub async fn dashboard(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::ViewDashboard).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let since = (now / DAY_MS - 13) * DAY_MS;
    let (counts, complaints, recent) = match (
        c.store.outcome_counts_by_day(since).await,
        c.store.complaint_counts(now).await,
        c.store
            .list_records(&hegui_store::RecordQuery {
                since_ms: Some(now - 7 * DAY_MS),
                limit: Some(2000),
                ..Default::default()
            })
            .await,
    ) {
        (Ok(a), Ok(b), Ok(r)) => (a, b, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return case_error(e.into()),
    };
    let mut per_day: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for day in since / DAY_MS..=now / DAY_MS {
        per_day.insert(day, (0, 0));
    }
    let (mut total, mut blocked_total) = (0, 0);
    for (day, outcome, n) in &counts {
        let e = per_day.entry(*day).or_default();
        e.0 += n;
        total += n;
        if outcome.starts_with("blocked") {
            e.1 += n;
            blocked_total += n;
        }
    }
    let label = |day: i64| {
        chrono::DateTime::from_timestamp_millis(day * DAY_MS)
            .map(|d| d.format("%m-%d").to_string())
            .unwrap_or_default()
    };
    let traffic: Vec<(String, f64)> = per_day
        .iter()
        .map(|(d, (n, _))| (label(*d), *n as f64))
        .collect();
    let blocked_rate: Vec<(String, f64)> = per_day
        .iter()
        .map(|(d, (n, b))| {
            (
                label(*d),
                if *n > 0 {
                    100.0 * *b as f64 / *n as f64
                } else {
                    0.0
                },
            )
        })
        .collect();
    // Decisions by risk and action over the last 7 days (at most the newest 2000 records).
    let mut by_risk: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in recent.iter().filter_map(|r| r.record.as_ref()) {
        for d in &r.decisions {
            for risk in &d.risks {
                *by_risk
                    .entry((risk.clone(), format!("{:?}", d.action).to_lowercase()))
                    .or_default() += 1;
            }
        }
    }
    let (by_state, overdue) = complaints;
    let body = html! {
        div.cards {
            div.card { b #traffic-total { (total) } "14 天请求 requests (14 days)" }
            div.card { b { (blocked_total) } "拦截 blocked" }
            div.card { b #complaints-open { (by_state.iter().filter(|(s, _)| s == "received" || s == "in_review").map(|(_, n)| n).sum::<i64>()) } "待处理投诉 open complaints" }
            div.card { b #complaints-overdue class=[(overdue > 0).then_some("overdue")] { (overdue) } "逾期 overdue" }
        }
        @if overdue > 0 {
            p.err role="alert" { (overdue) " 件投诉已超过处理期限。 complaint(s) past their deadline — " a href="/console/complaints?state=received" { "处理 handle" } }
        }
        (bar_chart("每日请求 Requests per day", &traffic, ""))
        (bar_chart("拦截率 Blocked rate (%)", &blocked_rate, "%"))
        h2 { "审核决定（按风险与措施，近 7 天）Review decisions by risk and action (7 days)" }
        table #decisions {
            tr { th { "风险 Risk" } th { "措施 Action" } th { "次数 Count" } }
            @for ((risk, action), n) in &by_risk { tr { td { (risk) } td { (action) } td { (n) } } }
        }
        @if by_risk.is_empty() { p.muted { "近 7 天无命中。No matches in 7 days." } }
        h2 { "投诉（按状态）Complaints by state" }
        table { tr { th { "状态 State" } th { "数量 Count" } } @for (st, n) in &by_state { tr { td { (st) } td { (n) } } } }
    };
    respond(StatusCode::OK, console_page(&s, "总览 Dashboard", body))
}

/// GET /console/policy
pub async fn policy(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::ViewDashboard).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (changes, proposals) = match (
        c.store.journal_of_kind(kinds::POLICY_CHANGE, 50).await,
        c.store.lexicon_proposals(100).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return case_error(e.into()),
    };
    let can_decide = s.role.allows(Permission::DecideProposals);
    let entries: Vec<(i64, String, Option<JournalEntry>)> = changes
        .into_iter()
        .map(|r| {
            let e = r
                .record
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            (r.created_at, r.id, e)
        })
        .collect();
    let body = html! {
        h2 { "策略版本（最新在前）Policy versions, newest first" }
        table #policy {
            tr { th { "生效 In force from" } th { "版本 Version" } th { "词库 Lexicons" } th { "记录 Record" } }
            @for (at, id, e) in &entries {
                tr {
                    td { (time(*at)) }
                    td { @if let Some(e) = e { code { (e.body.get("policy_version").and_then(|v| v.as_str()).unwrap_or("?")) } } }
                    td { @if let Some(e) = e { (e.body.get("lexicons").map(|v| v.to_string()).unwrap_or_default()) } }
                    td { a href=(format!("/console/ledger?record={id}")) { (id) } }
                }
            }
        }
        h2 { "投诉建议的词条 Lexicon terms proposed from complaints" }
        table #proposals {
            tr { th { "时间 Time" } th { "词条 Term" } th { "风险 Risk" } th { "状态 State" } th { "投诉 Complaint" } th { "提出人 By" } @if can_decide { th { "决定 Decide" } } }
            @for p in &proposals {
                tr { td { (time(p.created_at)) } td { (p.term) } td { (p.risk) } td { (p.state) }
                     td { a href=(format!("/console/complaints/{}", p.receipt)) { (p.receipt) } } td { (p.actor) }
                     @if can_decide { td { @if p.state == "proposed" {
                        @for (d, name) in [("accepted", "采纳 Accept"), ("rejected", "不采纳 Reject")] {
                            form.inline method="post" action=(format!("/console/policy/proposals/{}", p.id)) {
                                (csrf_field(&s)) input type="hidden" name="decision" value=(d);
                                button type="submit" { (name) }
                            }
                        }
                     } } }
                }
            }
        }
        @let accepted: Vec<_> = proposals.iter().filter(|p| p.state == "accepted").collect();
        @if !accepted.is_empty() {
            h3 { "待加入词库的条目 Accepted entries to add to your lexicon file (then reload; the reload is recorded)" }
            pre #accepted-entries {
                @for p in &accepted {
                    "[[entry]]\nterm = " (serde_json::Value::String(p.term.clone()).to_string()) "\nrisk = \"" (p.risk) "\"\naction = \"block\"\n\n"
                }
            }
        }
    };
    respond(StatusCode::OK, console_page(&s, "策略 Policy", body))
}

/// `?record=`
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct LedgerQuery {
    record: String,
}

/// GET /console/ledger: the newest checkpoint, the public key, and (with `?record=`) the
/// record's inclusion proof checked against the checkpoint with the log's key.
pub async fn ledger(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<LedgerQuery>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewDashboard).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let checkpoint = match c.store.latest_checkpoint().await {
        Ok(cp) => cp,
        Err(e) => return case_error(e.into()),
    };
    let record = q.record.trim();
    let proof: Option<Result<String, String>> = if record.is_empty() {
        None
    } else {
        Some(
            match c.store.proof_bundle(record, &c.ledger_key, true, None).await {
                Err(e) => Err(e.to_string()),
                Ok(bundle) => match bundle.verify(&c.ledger_key) {
                    Err(e) => Err(format!("the proof does not verify: {e}")),
                    Ok(v) => match hegui_ledger::check_disclosure(&v) {
                        Ok((entry, _)) => Ok(format!(
                            "record {} ({}) is leaf {} of the signed tree of size {}; its content matches the leaf's commitment",
                            entry.id, entry.kind, v.leaf_index, v.checkpoint.size
                        )),
                        Err(e) => Err(format!("the record does not match its leaf: {e}")),
                    },
                },
            },
        )
    };
    let body = html! {
        h2 { "最新签名检查点 Newest signed checkpoint" }
        @match &checkpoint {
            Some(cp) => { p { "签发 Issued " (time(cp.created_at)) " · 大小 size " (cp.size) } pre #checkpoint { (cp.note) } }
            None => { p.muted { "尚无检查点。No checkpoint yet." } }
        }
        h2 { "日志公钥 Log public key" }
        pre #public-key { (c.ledger_key.key_string()) }
        h2 { "验证记录 Verify a record" }
        form method="get" action="/console/ledger" {
            label for="record" { "记录编号 Record id" }
            input type="text" id="record" name="record" value=(record);
            button type="submit" { "验证 Verify" }
        }
        @match &proof {
            Some(Ok(m)) => { p.ok #proof-result role="status" { "✓ " (m) } }
            Some(Err(m)) => { p.err #proof-result role="alert" { "✗ " (m) } }
            None => {}
        }
    };
    respond(StatusCode::OK, console_page(&s, "防篡改日志 Ledger", body))
}

/// The proposal decision form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    csrf: String,
    decision: String,
}

/// POST /console/policy/proposals/{id}: accept or reject a proposed lexicon term.
pub async fn decide_proposal(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::DecideProposals, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !matches!(f.decision.as_str(), "accepted" | "rejected") {
        return error_page(StatusCode::BAD_REQUEST, "decision is accepted or rejected");
    }
    let entry = JournalEntry::new(
        kinds::STAFF_ACTION,
        &s.actor(),
        serde_json::json!({"action": "lexicon_proposal_decided", "target": id, "details": {"decision": f.decision}}),
    );
    match c
        .store
        .decide_lexicon_proposal(&id, &f.decision, &entry)
        .await
    {
        Ok(()) => Redirect::to("/console/policy").into_response(),
        Err(hegui_store::StoreError::Conflict(m)) => error_page(StatusCode::CONFLICT, m),
        Err(e) => case_error(e.into()),
    }
}
