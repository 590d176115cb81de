//! Staff accounts (admin) and the inspection export (inspector and compliance officer).

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_staff::{Permission, Role, StaffError, ROLES};
use maud::html;
use serde::Deserialize;

use crate::auth::{auth, auth_form};
use crate::layout::{console_page, csrf_field, error_page, respond, time};
use crate::workflow::case_error;
use crate::Console;

fn staff_error(e: StaffError) -> Response {
    match e {
        StaffError::Invalid(m) => error_page(StatusCode::BAD_REQUEST, &m),
        StaffError::Unknown(_) => error_page(StatusCode::NOT_FOUND, &e.to_string()),
        StaffError::Store(e) => case_error(e.into()),
        StaffError::Hash(m) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &m),
    }
}

/// GET /console/staff
pub async fn list(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::ManageStaff).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let all = match c.store.list_staff().await {
        Ok(a) => a,
        Err(e) => return case_error(e.into()),
    };
    let body = html! {
        table #staff {
            tr { th { "用户名 Username" } th { "角色 Role" } th { "创建 Created" } th { "状态 State" } th { "操作 Change" } }
            @for m in &all {
                tr {
                    td { (m.username) } td { (m.role) } td { (time(m.created_at)) }
                    td { @if m.disabled_at.is_some() { "停用 disabled" } @else { "启用 active" } }
                    td {
                        form.inline method="post" action=(format!("/console/staff/{}", m.username)) {
                            (csrf_field(&s))
                            select name="role" { option value="" { "角色不变 keep role" } @for r in ROLES { option value=(r.as_str()) { (r.as_str()) } } }
                            select name="disabled" { option value="" { "—" } option value="1" { "停用 disable" } option value="0" { "启用 enable" } }
                            input type="password" name="password" placeholder="新密码 new password (optional)" autocomplete="new-password";
                            button type="submit" { "保存 Save" }
                        }
                    }
                }
            }
        }
        h2 { "新建账号 New account" }
        form method="post" action="/console/staff" {
            (csrf_field(&s))
            label for="username" { "用户名 Username" } input type="text" id="username" name="username" required;
            label for="role" { "角色 Role" }
            select id="role" name="role" { @for r in ROLES { option value=(r.as_str()) { (r.as_str()) " " (r.zh()) } } }
            label for="password" { "初始密码 Initial password (≥ 12)" } input type="password" id="password" name="password" required autocomplete="new-password";
            button type="submit" { "创建 Create" }
        }
    };
    respond(StatusCode::OK, console_page(&s, "工作人员 Staff", body))
}

/// The staff forms.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct StaffForm {
    csrf: String,
    username: String,
    role: String,
    password: String,
    disabled: String,
}

/// POST /console/staff
pub async fn create(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<StaffForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::ManageStaff, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(role) = Role::parse(&f.role) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "role is admin, compliance_officer, reviewer or inspector",
        );
    };
    match c
        .staff
        .create(f.username.trim(), &f.password, role, &s.actor())
        .await
    {
        Ok(_) => Redirect::to("/console/staff").into_response(),
        Err(e) => staff_error(e),
    }
}

/// POST /console/staff/{username}
pub async fn update(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(f): Form<StaffForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::ManageStaff, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role = match f.role.as_str() {
        "" => None,
        r => match Role::parse(r) {
            Some(r) => Some(r),
            None => return error_page(StatusCode::BAD_REQUEST, "unknown role"),
        },
    };
    let disabled = match f.disabled.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    if username == s.staff.username
        && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "you cannot disable your own account or remove your own admin role; ask another admin",
        );
    }
    let password = Some(f.password.as_str()).filter(|p| !p.is_empty());
    match c
        .staff
        .update(&username, password, role, disabled, &s.actor())
        .await
    {
        Ok(()) => Redirect::to("/console/staff").into_response(),
        Err(e) => staff_error(e),
    }
}

/// GET /console/export
pub async fn export_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let s = match auth(&c, &headers, Permission::Export).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let body = html! {
        p { "导出指定期间的交互记录、审核决定、投诉及处理、策略版本、人员操作、签名检查点和证明，可用日志公钥离线验证（hegui inspect verify）。" }
        p { "Exports the period's interaction records, review decisions, complaints and their handling, policy versions, staff actions, signed checkpoints and proofs; verify offline with the log's public key (`hegui inspect verify`)." }
        @if c.exporter.is_none() { p.err { "本服务未配置导出。Export is not configured on this server; use `hegui inspect export`." } }
        form method="post" action="/console/export" {
            (csrf_field(&s))
            label for="from" { "自 From" } input type="date" id="from" name="from" value=(today) required;
            label for="to" { "至 To" } input type="date" id="to" name="to" value=(today) required;
            button type="submit" #export { "导出 Export" }
        }
    };
    respond(
        StatusCode::OK,
        console_page(&s, "检查导出 Inspection export", body),
    )
}

/// The export form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ExportForm {
    csrf: String,
    from: String,
    to: String,
}

/// POST /console/export: the bundle as a download; the export is a recorded staff action.
pub async fn export(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<ExportForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::Export, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let parse = |v: &str| chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok();
    let (Some(from), Some(to)) = (parse(&f.from), parse(&f.to)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "from and to are dates (YYYY-MM-DD)",
        );
    };
    if from > to {
        return error_page(StatusCode::BAD_REQUEST, "from is after to; swap them");
    }
    let Some(exporter) = &c.exporter else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "export is not configured on this server; use `hegui inspect export`",
        );
    };
    let start = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis() - 8 * 3_600_000)
            .unwrap_or(0)
    };
    let (from_ms, to_ms) = (start(from), start(to.succ_opt().unwrap_or(to)));
    if let Err(e) = c
        .staff
        .record(
            &s,
            "inspection_export",
            &format!("{from}..{to}"),
            serde_json::json!({"from": f.from, "to": f.to}),
        )
        .await
    {
        return case_error(e.into());
    }
    match exporter(from_ms, to_ms).await {
        Ok(bytes) => {
            let mut r = bytes.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"hegui-inspection-{from}-{to}.bundle\""
            )) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(m) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the export failed: {m}"),
        ),
    }
}
