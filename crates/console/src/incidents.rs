//! Serious incidents: list, open, timeline, report.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_cases::{IncidentInput, EVENT_KINDS};
use hegui_staff::Permission;
use maud::html;
use serde::Deserialize;

use crate::auth::{auth, auth_form};
use crate::layout::{console_page, csrf_field, error_page, respond, time};
use crate::workflow::case_error;
use crate::Console;

/// GET /console/incidents
pub async fn list(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::ViewIncidents).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let all = match c.store.incidents(200).await {
        Ok(a) => a,
        Err(e) => return case_error(e.into()),
    };
    let body = html! {
        table #incidents {
            tr { th { "发生 Occurred" } th { "标题 Title" } th { "严重程度 Severity" } th { "状态 State" } th { "已报告 Reported" } }
            @for i in &all {
                tr {
                    td { (time(i.occurred_at)) }
                    td { a href=(format!("/console/incidents/{}", i.id)) { (i.title) } }
                    td { (i.severity) } td { (i.state) }
                    td { (i.reported_at.map(time).unwrap_or_else(|| "—".into())) }
                }
            }
        }
        @if s.role.allows(Permission::ManageIncidents) {
            h2 { "记录新事件 Record an incident" }
            form method="post" action="/console/incidents" {
                (csrf_field(&s))
                label for="title" { "标题 Title" } input type="text" id="title" name="title" required;
                label for="severity" { "严重程度 Severity" }
                select id="severity" name="severity" { @for v in ["low", "medium", "high", "critical"] { option value=(v) { (v) } } }
                label for="occurred" { "发生时间 Occurred (YYYY-MM-DD HH:MM, 北京时间)" } input type="text" id="occurred" name="occurred" required;
                label for="detected" { "发现时间 Detected (YYYY-MM-DD HH:MM)" } input type="text" id="detected" name="detected" required;
                label for="impact" { "影响 Impact" } textarea id="impact" name="impact" required {}
                label for="measures" { "已采取措施 Measures" } textarea id="measures" name="measures" {}
                button type="submit" { "保存 Save" }
            }
        }
    };
    respond(StatusCode::OK, console_page(&s, "安全事件 Incidents", body))
}

/// The new-incident form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct IncidentForm {
    csrf: String,
    title: String,
    severity: String,
    occurred: String,
    detected: String,
    impact: String,
    measures: String,
}

/// `YYYY-MM-DD HH:MM` (or with `T`) in China time → Unix ms.
fn china_ms(field: &str, s: &str) -> Result<i64, String> {
    let t = s.trim().replace('T', " ");
    chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M")
        .map(|d| d.and_utc().timestamp_millis() - 8 * 3_600_000)
        .map_err(|_| format!("{field}: {s:?} is not a time; use YYYY-MM-DD HH:MM (China time)"))
}

/// POST /console/incidents
pub async fn open(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<IncidentForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::ManageIncidents, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (occurred_at, detected_at) = match (
        china_ms("occurred", &f.occurred),
        china_ms("detected", &f.detected),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let input = IncidentInput {
        title: f.title,
        severity: f.severity,
        occurred_at,
        detected_at,
        impact: f.impact,
        measures: f.measures,
    };
    match c.incidents.open(&input, &s.actor()).await {
        Ok(i) => Redirect::to(&format!("/console/incidents/{}", i.id)).into_response(),
        Err(e) => case_error(e),
    }
}

/// GET /console/incidents/{id}
pub async fn page(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match auth(&c, &headers, Permission::ViewIncidents).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (i, events) = match (
        c.store.incident(&id).await,
        c.store.incident_events(&id).await,
    ) {
        (Ok(Some(i)), Ok(ev)) => (i, ev),
        (Ok(None), _) => return error_page(StatusCode::NOT_FOUND, "no incident has this id"),
        (Err(e), _) | (_, Err(e)) => return case_error(e.into()),
    };
    let body = html! {
        table {
            tr { th { "严重程度 Severity" } td { (i.severity) } }
            tr { th { "发生 Occurred" } td { (time(i.occurred_at)) } }
            tr { th { "发现 Detected" } td { (time(i.detected_at)) } }
            tr { th { "状态 State" } td { (i.state) } }
            tr { th { "影响 Impact" } td { (i.impact) } }
            tr { th { "措施 Measures" } td { pre { (i.measures) } } }
            tr { th { "报告监管 Reported" } td { (i.reported_at.map(time).unwrap_or_else(|| "—".into())) " " (i.report_ref.as_deref().unwrap_or("")) } }
        }
        p { a href=(format!("/console/incidents/{}/report", i.id)) { "导出报告 Export report" } }
        h2 { "时间线 Timeline" }
        ol #timeline { @for e in &events { li { (time(e.at)) " — " (e.actor) " — " (e.kind) ": " (e.note) } } }
        @if s.role.allows(Permission::ManageIncidents) && i.state == "open" {
            form method="post" action=(format!("/console/incidents/{}/events", i.id)) {
                (csrf_field(&s))
                label for="kind" { "类型 Kind" }
                select id="kind" name="kind" { @for k in EVENT_KINDS { option value=(k) { (k) } } }
                label for="note" { "内容 Note" } textarea id="note" name="note" required {}
                label for="report_ref" { "监管部门受理号（报告时）Regulator's reference (when reporting)" } input type="text" id="report_ref" name="report_ref";
                button type="submit" { "添加 Add" }
            }
        }
    };
    respond(
        StatusCode::OK,
        console_page(&s, &format!("事件 {}", i.title), body),
    )
}

/// The timeline form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct EventForm {
    csrf: String,
    kind: String,
    note: String,
    report_ref: String,
}

/// POST /console/incidents/{id}/events
pub async fn add_event(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<EventForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::ManageIncidents, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let report_ref = Some(f.report_ref.trim()).filter(|r| !r.is_empty());
    match c
        .incidents
        .add_event(&id, &f.kind, &f.note, report_ref, &s.actor())
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/incidents/{id}")).into_response(),
        Err(e) => case_error(e),
    }
}

/// GET /console/incidents/{id}/report (Markdown download)
pub async fn report(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = auth(&c, &headers, Permission::ViewIncidents).await {
        return r;
    }
    match c.incidents.report(&id).await {
        Ok(md) => {
            let mut r = md.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.md\"")) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => case_error(e),
    }
}
