//! Logins, sessions, role checks and CSRF.
//!
//! - Session cookie: random 256-bit token, stored as SHA-256, `HttpOnly; SameSite=Strict;
//!   Path=/`, `Secure` behind TLS. Expiry and idle timeout are enforced by `hegui-staff`.
//! - CSRF inside a session: a per-session synchronizer token in every form, compared in
//!   constant time. Before a session (login, the public complaint form): a double-submit
//!   token, random, in a `SameSite=Strict` cookie and in the form.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hegui_staff::{LoginError, Permission, Session};
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::layout::{error_page, public_page, respond, Lang};
use crate::Console;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "hegui_session";
/// Name of the pre-session double-submit CSRF cookie.
pub const CSRF_COOKIE: &str = "hegui_csrf";

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure(c: &Console, headers: &HeaderMap) -> bool {
    c.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value.
pub fn set_cookie(
    c: &Console,
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure(c, headers) { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The double-submit token for a pre-session form: the request's cookie if it has a
/// well-formed one, else a fresh one (and the cookie to set).
pub fn pre_session_token(c: &Console, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(t) => (t.to_string(), None),
        None => {
            let t = random_token();
            let set = set_cookie(c, headers, CSRF_COOKIE, &t, 12 * 3600);
            (t, Some(set))
        }
    }
}

/// Whether a pre-session form's token matches its cookie.
pub fn pre_session_ok(headers: &HeaderMap, presented: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|c| {
        c.len() == presented.len() && bool::from(c.as_bytes().ct_eq(presented.as_bytes()))
    })
}

/// The session of a request that needs `p`: no session → redirect to the login page; a
/// role without `p` → 403.
pub async fn auth(c: &Console, headers: &HeaderMap, p: Permission) -> Result<Session, Response> {
    let token = cookie(headers, SESSION_COOKIE).unwrap_or("");
    let session = if token.is_empty() {
        None
    } else {
        c.staff.session(token).await.map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry shortly",
            )
        })?
    };
    let Some(s) = session else {
        return Err(Redirect::to("/console/login").into_response());
    };
    if !s.role.allows(p) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            &format!(
                "your role ({}) may not do this; ask an administrator if you need it",
                s.role.as_str()
            ),
        ));
    }
    Ok(s)
}

/// [`auth`] for a form submission: also checks the session's CSRF token.
pub async fn auth_form(
    c: &Console,
    headers: &HeaderMap,
    p: Permission,
    csrf: &str,
) -> Result<Session, Response> {
    let s = auth(c, headers, p).await?;
    if !s.csrf_ok(csrf) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "this form's security token is missing, expired or forged; reload the page and submit again",
        ));
    }
    Ok(s)
}

fn login_form(lang: Lang, token: &str, error: Option<&str>, username: &str) -> maud::Markup {
    public_page(
        lang,
        lang.t("工作人员登录", "Staff login"),
        if lang == Lang::Zh {
            "/console/login?lang=en"
        } else {
            "/console/login"
        },
        html! {
            @if let Some(e) = error { p.err role="alert" { (e) } }
            form method="post" action="/console/login" {
                input type="hidden" name="csrf" value=(token);
                label for="username" { (lang.t("用户名", "Username")) }
                input type="text" id="username" name="username" value=(username) autocomplete="username" required;
                label for="password" { (lang.t("密码", "Password")) }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                button type="submit" { (lang.t("登录", "Log in")) }
            }
        },
    )
}

/// `lang` query parameter.
#[derive(Debug, Deserialize, Default)]
pub struct LangQuery {
    /// `en` for English.
    pub lang: Option<String>,
}

/// GET /console/login
pub async fn login_page(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
) -> Response {
    let (token, set) = pre_session_token(&c, &headers);
    let mut resp = respond(
        StatusCode::OK,
        login_form(Lang::from_param(q.lang.as_deref()), &token, None, ""),
    );
    if let Some(v) = set {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The login form.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// POST /console/login
pub async fn login(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    ext: Extensions,
    Form(f): Form<LoginForm>,
) -> Response {
    let (token, set) = pre_session_token(&c, &headers);
    let fail = |status: StatusCode, msg: &str| {
        let mut r = respond(status, login_form(Lang::Zh, &token, Some(msg), &f.username));
        if let Some(v) = &set {
            r.headers_mut().append(header::SET_COOKIE, v.clone());
        }
        r
    };
    if !pre_session_ok(&headers, &f.csrf) {
        return fail(
            StatusCode::FORBIDDEN,
            "登录表单已过期或被伪造，请重新提交。The login form expired or was forged; submit it again.",
        );
    }
    let ip = crate::client_ip(c.client_ip_header.as_deref(), &headers, &ext);
    if let Err(wait) = c.logins.admit(&ip) {
        let mut r = fail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("登录尝试过多，请 {wait} 秒后再试。Too many login attempts from this address; try again in {wait} s."),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    match c.staff.login(f.username.trim(), &f.password).await {
        Ok((_, cookie_token)) => {
            let mut r = Redirect::to("/console").into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&c, &headers, SESSION_COOKIE, &cookie_token, 8 * 3600),
            );
            r
        }
        Err(LoginError::BadCredentials) => fail(
            StatusCode::UNAUTHORIZED,
            "用户名或密码错误。Wrong username or password.",
        ),
        Err(LoginError::Locked(until)) => fail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "失败次数过多，账户锁定至 {}。Too many failed logins; the account is locked until then.",
                crate::layout::time(until)
            ),
        ),
        Err(LoginError::Store(e)) => {
            tracing::error!(error = %e, "login failed on storage");
            fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "服务暂不可用，请稍后再试。The service is unavailable; retry shortly.",
            )
        }
    }
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// POST /console/logout
pub async fn logout(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let s = match auth_form(&c, &headers, Permission::ViewDashboard, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = c.staff.logout(&s).await {
        tracing::error!(error = %e, "logout failed");
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&c, &headers, SESSION_COOKIE, "", 0),
    );
    r
}
