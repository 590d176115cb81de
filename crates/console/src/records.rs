//! Interaction search, one interaction, users and suspension.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_staff::Permission;
use hegui_store::RecordQuery;
use hegui_types::Outcome;
use maud::html;
use serde::Deserialize;

use crate::auth::{auth, auth_form};
use crate::layout::{console_page, csrf_field, error_page, respond, time};
use crate::workflow::case_error;
use crate::Console;

/// Interaction search filters.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    user: String,
    produce_id: String,
    outcome: String,
    from: String,
    to: String,
}

/// A `YYYY-MM-DD` date (China time) as Unix ms at its start; `end` gives the next day's start.
fn date_ms(s: &str, end: bool) -> Result<Option<i64>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date; use YYYY-MM-DD"))?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    let ms = d
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis() - 8 * 3_600_000);
    Ok(ms)
}

fn outcome(s: &str) -> Option<Outcome> {
    [
        Outcome::Served,
        Outcome::Rejected,
        Outcome::BlockedInput,
        Outcome::BlockedOutput,
        Outcome::UpstreamError,
        Outcome::ClientDisconnect,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

/// GET /console/interactions
pub async fn interactions(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewInteractions).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (since, until) = match (date_ms(&q.from, false), date_ms(&q.to, true)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let query = RecordQuery {
        user_id: Some(q.user.trim().to_string()).filter(|v| !v.is_empty()),
        produce_id: Some(q.produce_id.trim().to_string()).filter(|v| !v.is_empty()),
        outcome: outcome(&q.outcome),
        since_ms: since,
        until_ms: until,
        limit: Some(200),
    };
    let rows = match c.store.list_records(&query).await {
        Ok(r) => r,
        Err(e) => return case_error(e.into()),
    };
    let body = html! {
        form method="get" action="/console/interactions" {
            label for="user" { "用户 User (usr_…)" } input type="text" id="user" name="user" value=(q.user);
            label for="produce_id" { "ProduceID" } input type="text" id="produce_id" name="produce_id" value=(q.produce_id);
            label for="outcome" { "结果 Outcome" }
            select id="outcome" name="outcome" {
                option value="" { "全部 any" }
                @for o in ["served", "rejected", "blocked_input", "blocked_output", "upstream_error", "client_disconnect"] {
                    option value=(o) selected[q.outcome == o] { (o) }
                }
            }
            label for="from" { "自 From" } input type="date" id="from" name="from" value=(q.from);
            label for="to" { "至 To" } input type="date" id="to" name="to" value=(q.to);
            button type="submit" { "查询 Search" }
        }
        p.muted { (rows.len()) " 条（最多 200）results (at most 200)" }
        table #interactions {
            tr { th { "时间 Time" } th { "用户 User" } th { "结果 Outcome" } th { "风险 Risks" } th { "ProduceID" } th { "记录 Record" } }
            @for r in &rows {
                tr {
                    @if let Some(rec) = &r.record {
                        td { (time(rec.received_at_ms)) }
                        td { (rec.user_id.as_deref().unwrap_or("—")) }
                        td { (rec.outcome.as_str()) }
                        td { (rec.decisions.iter().flat_map(|d| d.risks.iter().cloned()).collect::<Vec<_>>().join(", ")) }
                        td { (rec.label.as_ref().map(|l| l.produce_id.as_str()).unwrap_or("—")) }
                    } @else {
                        td colspan="5" { "内容已按保存期限删除 content erased (retention)" }
                    }
                    td { a href=(format!("/console/interactions/{}", r.id)) { (r.id) } }
                }
            }
        }
    };
    respond(
        StatusCode::OK,
        console_page(&s, "交互记录 Interactions", body),
    )
}

/// GET /console/interactions/{id}
pub async fn interaction(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewInteractions).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let row = match c.store.record(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "no interaction has this id"),
        Err(e) => return case_error(e.into()),
    };
    let pretty = row
        .record
        .as_ref()
        .and_then(|r| serde_json::to_string_pretty(r).ok())
        .unwrap_or_else(|| "(content erased)".into());
    let body = html! {
        p { "日志位置 Leaf index: " (row.leaf_index.map_or("pending".to_string(), |i| i.to_string()))
            " · 内容哈希 content hash: " code { (row.content_hash) } }
        p { a href=(format!("/console/ledger?record={}", row.id)) { "验证包含证明 Verify inclusion proof" } }
        pre #record { (pretty) }
    };
    respond(
        StatusCode::OK,
        console_page(&s, &format!("记录 {id}"), body),
    )
}

/// GET /console/users
pub async fn users(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::ViewUsers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let list = match c.store.list_users().await {
        Ok(l) => l,
        Err(e) => return case_error(e.into()),
    };
    let can = s.role.allows(Permission::SuspendUsers);
    let body = html! {
        table #users {
            tr { th { "用户 User" } th { "手机 Phone" } th { "身份 ID" } th { "未成年 Minor" } th { "状态 State" } @if can { th { "操作 Action" } } }
            @for u in &list {
                tr id=(u.id) {
                    td { (u.id) }
                    td { (u.phone_masked.as_deref().unwrap_or("—")) @if u.phone_verified_at.is_some() { " ✓" } }
                    td { (u.id_masked.as_deref().unwrap_or("—")) @if u.id_verified_at.is_some() { " ✓" } }
                    td { (u.minor_until.as_deref().unwrap_or("—")) }
                    td { @if u.deleted_at.is_some() { "已注销 deleted" } @else if u.suspended { "已暂停 suspended" } @else { "正常 active" } }
                    @if can {
                        td {
                            form.inline method="post" action=(format!("/console/users/{}/{}", u.id, if u.suspended { "reinstate" } else { "suspend" })) {
                                (csrf_field(&s))
                                input type="text" name="reason" placeholder="理由 reason" required;
                                button type="submit" { @if u.suspended { "恢复 Reinstate" } @else { "暂停 Suspend" } }
                            }
                        }
                    }
                }
            }
        }
    };
    respond(StatusCode::OK, console_page(&s, "用户 Users", body))
}

/// The suspension form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    csrf: String,
    reason: String,
}

async fn set_suspended(
    c: &Console,
    headers: &HeaderMap,
    id: &str,
    f: &ReasonForm,
    suspended: bool,
) -> Response {
    let s = match auth_form(c, headers, Permission::SuspendUsers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if f.reason.trim().is_empty() || f.reason.chars().count() > 1000 {
        return error_page(
            StatusCode::BAD_REQUEST,
            "give a reason (at most 1000 characters): it goes into the tamper-evident log",
        );
    }
    match c
        .store
        .set_suspended(id, suspended, f.reason.trim(), &s.actor())
        .await
    {
        Ok(_) => Redirect::to("/console/users").into_response(),
        Err(hegui_store::StoreError::NotFound { .. }) => {
            error_page(StatusCode::NOT_FOUND, "no user has this id")
        }
        Err(e) => case_error(e.into()),
    }
}

/// POST /console/users/{id}/suspend
pub async fn suspend(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Response {
    set_suspended(&c, &headers, &id, &f, true).await
}

/// POST /console/users/{id}/reinstate
pub async fn reinstate(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Response {
    set_suspended(&c, &headers, &id, &f, false).await
}
