//! The complaint queue and case pages.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_cases::{Action, CaseError, Resolution};
use hegui_staff::{Permission, Session};
use maud::html;
use serde::Deserialize;

use crate::auth::{auth, auth_form};
use crate::layout::{console_page, csrf_field, error_page, respond, time};
use crate::Console;

/// `?state=`
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct QueueQuery {
    state: Option<String>,
}

/// Maps a workflow error to a page.
pub fn case_error(e: CaseError) -> Response {
    match e {
        CaseError::Invalid(errs) => error_page(
            StatusCode::BAD_REQUEST,
            &errs
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        CaseError::UnknownReceipt(_) => error_page(StatusCode::NOT_FOUND, &e.to_string()),
        CaseError::WrongState(m) => error_page(StatusCode::CONFLICT, &m),
        CaseError::Store(e) => {
            tracing::error!(error = %e, "case storage failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; nothing was changed; retry shortly",
            )
        }
    }
}

/// GET /console/complaints
pub async fn queue(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewComplaints).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let state = q.state.filter(|s| hegui_cases::State::parse(s).is_some());
    let list = match c.store.list_complaints(state.as_deref(), 500).await {
        Ok(l) => l,
        Err(e) => return case_error(e.into()),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let body = html! {
        p {
            "筛选 Filter: "
            a href="/console/complaints" { "全部 all" } " · "
            @for st in ["received", "in_review", "resolved", "rejected"] {
                a href=(format!("/console/complaints?state={st}")) { (st) } " · "
            }
        }
        table #queue {
            tr { th { "受理编号 Receipt" } th { "类别 Category" } th { "状态 State" } th { "期限 Due" } th { "内容 Target" } th { "处理人 Assignee" } }
            @for k in &list {
                @let open = k.state == "received" || k.state == "in_review";
                tr {
                    td { a href=(format!("/console/complaints/{}", k.receipt)) { (k.receipt) } }
                    td { (k.category) }
                    td { (k.state) }
                    td class=[(open && k.due_at < now).then_some("overdue")] {
                        (time(k.due_at)) @if open && k.due_at < now { " 已逾期 overdue" }
                    }
                    td { (k.target_kind) ": " (k.target.chars().take(60).collect::<String>()) }
                    td { (k.assignee.as_deref().unwrap_or("—")) }
                }
            }
        }
        @if list.is_empty() { p.muted { "没有投诉。No complaints." } }
    };
    respond(
        StatusCode::OK,
        console_page(&s, "投诉队列 Complaint queue", body),
    )
}

/// GET /console/complaints/{receipt}
pub async fn case_page(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewComplaints).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let k = match c.cases.get(&receipt).await {
        Ok(k) => k,
        Err(e) => return case_error(e),
    };
    let steps = match c.store.complaint_steps(&k.receipt).await {
        Ok(v) => v,
        Err(e) => return case_error(e.into()),
    };
    let withdrawn = if k.target_kind == "produce_id" {
        c.store.withdrawal(&k.target).await.ok().flatten()
    } else {
        None
    };
    let can_handle = s.role.allows(Permission::HandleComplaints);
    let contact = if can_handle {
        c.cases.contact(&k)
    } else {
        None
    };
    let body = html! {
        table #case {
            tr { th { "受理编号 Receipt" } td #receipt { (k.receipt) } }
            tr { th { "状态 State" } td #state { (k.state) } }
            tr { th { "类别 Category" } td { (k.category) } }
            tr { th { "内容 Target" } td { (k.target_kind) ": " (k.target) } }
            tr { th { "描述 Description" } td #description { (k.description) } }
            tr { th { "提交 Filed" } td { (time(k.created_at)) } }
            tr { th { "期限 Due" } td { (time(k.due_at)) } }
            tr { th { "相关用户 User" } td { @if let Some(u) = &k.user_id { a href=(format!("/console/users#{u}")) { (u) } } @else { "未知 unknown" } } }
            @if can_handle { tr { th { "联系方式 Contact" } td { (contact.as_deref().unwrap_or("—")) } } }
            tr { th { "处理人 Assignee" } td { (k.assignee.as_deref().unwrap_or("—")) } }
            @if let Some(a) = &k.action { tr { th { "措施 Action" } td { (a) } } }
            @if let Some(r) = &k.resolution { tr { th { "意见 Reasons" } td { (r) } } }
            @if let Some(w) = &withdrawn { tr { th { "下架 Withdrawn" } td { (w.action) " · " (time(w.at)) } } }
            tr { th { "日志记录 Log record" } td { code { (k.record_id) } } }
        }
        h2 { "处理记录 Steps" }
        ol { @for st in &steps { li { (time(st.at)) " — " (st.actor) ": " (st.from_state) " → " (st.to_state) @if let Some(a) = &st.action { " [" (a) "]" } " — " (st.note) } } }
        @if can_handle && k.state == "received" {
            form method="post" action=(format!("/console/complaints/{}/review", k.receipt)) {
                (csrf_field(&s))
                button type="submit" #take-review { "开始处理 Take into review" }
            }
        }
        @if can_handle && k.state == "in_review" {
            h2 { "处理 Resolve" }
            form method="post" action=(format!("/console/complaints/{}/resolve", k.receipt)) #resolve-form {
                (csrf_field(&s))
                label for="action" { "措施 Action" }
                select id="action" name="action" {
                    option value="delete" { "删除 / 下架 delete" }
                    option value="correct" { "更正 correct" }
                    option value="restrict" { "限制传播 restrict dissemination" }
                    option value="none" { "无需处置内容 no action on the content" }
                }
                label for="reason" { "处理意见 Reasons" }
                textarea id="reason" name="reason" required {}
                label style="font-weight:normal" { input type="checkbox" name="suspend_user" value="1"; " 暂停相关用户 Suspend the user behind the content" }
                label for="propose_term" { "建议词条（可选）Propose a lexicon term (optional)" }
                input type="text" id="propose_term" name="propose_term";
                button type="submit" #resolve { "确认处理 Resolve" }
            }
            h2 { "不予支持 Reject" }
            form method="post" action=(format!("/console/complaints/{}/reject", k.receipt)) {
                (csrf_field(&s))
                label for="reject_reason" { "理由 Reasons" }
                textarea id="reject_reason" name="reason" required {}
                button type="submit" { "驳回 Reject" }
            }
        }
    };
    respond(
        StatusCode::OK,
        console_page(&s, &format!("投诉 {}", k.receipt), body),
    )
}

/// The decision forms.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    csrf: String,
    action: String,
    reason: String,
    suspend_user: Option<String>,
    propose_term: String,
}

async fn form_session(c: &Console, headers: &HeaderMap, csrf: &str) -> Result<Session, Response> {
    auth_form(c, headers, Permission::HandleComplaints, csrf).await
}

fn back(receipt: &str) -> Response {
    Redirect::to(&format!("/console/complaints/{receipt}")).into_response()
}

/// POST /console/complaints/{receipt}/review
pub async fn take_review(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let s = match form_session(&c, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match c.cases.start_review(&receipt, &s.actor()).await {
        Ok(k) => back(&k.receipt),
        Err(e) => case_error(e),
    }
}

/// POST /console/complaints/{receipt}/resolve
pub async fn resolve(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let s = match form_session(&c, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let action = match f.action.as_str() {
        "none" | "" => None,
        a => match Action::parse(a) {
            Some(a) => Some(a),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "action is delete, correct, restrict or none",
                )
            }
        },
    };
    if f.suspend_user.is_some() && !s.role.allows(Permission::SuspendUsers) {
        return error_page(
            StatusCode::FORBIDDEN,
            "your role may resolve complaints but not suspend users; ask a compliance officer",
        );
    }
    let r = Resolution {
        action,
        reason: f.reason,
        suspend_user: f.suspend_user.is_some(),
        propose_term: Some(f.propose_term.trim().to_string()).filter(|t| !t.is_empty()),
    };
    match c.cases.resolve(&receipt, &s.actor(), &r).await {
        Ok(k) => back(&k.receipt),
        Err(e) => case_error(e),
    }
}

/// POST /console/complaints/{receipt}/reject
pub async fn reject(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let s = match form_session(&c, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match c.cases.reject(&receipt, &s.actor(), &f.reason).await {
        Ok(k) => back(&k.receipt),
        Err(e) => case_error(e),
    }
}
