//! The page shell, the language toggle and small rendering helpers. maud escapes every
//! interpolated value, so text from complainants and records can never become markup.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hegui_staff::{Permission, Session};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Chinese (default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From a `lang` parameter: `en` is English, anything else Chinese.
    pub fn from_param(p: Option<&str>) -> Lang {
        if p == Some("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// `zh` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// Picks the text in this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;color:#1a1a1a;background:#fafafa}\
header{background:#17324d;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\
header a{color:#fff}main{max-width:72rem;margin:1rem auto;padding:0 1rem}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#eef2f6}.err{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem;margin:.5rem 0}\
.ok{background:#e6f4ea;border:1px solid #9ccfa8;padding:.5rem;margin:.5rem 0}\
.overdue{color:#b00020;font-weight:bold}label{display:block;margin:.6rem 0 .2rem;font-weight:600}\
input[type=text],input[type=password],input[type=date],select,textarea{width:100%;max-width:40rem;padding:.35rem;box-sizing:border-box}\
textarea{min-height:8rem}button{padding:.4rem 1rem;margin-top:.6rem}form:not(.inline)>button{display:block}.muted{color:#666;font-size:.9em}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;padding:.6rem 1rem;min-width:10rem}\
.card b{font-size:1.6rem;display:block}pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #ddd;padding:.5rem}\
form.inline{display:inline}nav a{margin-right:.8rem}";

/// A public page (complaints), with the language toggle pointing at `toggle_href`.
pub fn public_page(lang: Lang, title: &str, toggle_href: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang == Lang::Zh { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { (lang.t("投诉举报", "Complaints")) }
                    a href=(toggle_href) lang=(if lang == Lang::Zh { "en" } else { "zh-CN" }) {
                        (lang.t("English", "中文"))
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A console page for a logged-in staff member: navigation shows what their role allows.
pub fn console_page(s: &Session, title: &str, body: Markup) -> Markup {
    let links: [(&str, &str, Permission); 9] = [
        ("/console", "总览 Dashboard", Permission::ViewDashboard),
        (
            "/console/complaints",
            "投诉 Complaints",
            Permission::ViewComplaints,
        ),
        (
            "/console/interactions",
            "记录 Interactions",
            Permission::ViewInteractions,
        ),
        ("/console/users", "用户 Users", Permission::ViewUsers),
        ("/console/policy", "策略 Policy", Permission::ViewDashboard),
        ("/console/ledger", "日志 Ledger", Permission::ViewDashboard),
        (
            "/console/incidents",
            "事件 Incidents",
            Permission::ViewIncidents,
        ),
        ("/console/export", "检查导出 Export", Permission::Export),
        ("/console/staff", "人员 Staff", Permission::ManageStaff),
    ];
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — hegui" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "hegui 合规控制台" }
                    nav {
                        @for (href, name, p) in links {
                            @if s.role.allows(p) { a href=(href) { (name) } }
                        }
                    }
                    span.muted style="color:#cde" { (s.staff.username) " · " (s.role.zh()) }
                    form.inline method="post" action="/console/logout" {
                        (csrf_field(s))
                        button type="submit" { "退出 Log out" }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The hidden CSRF field every console form carries.
pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A Unix ms time in China Standard Time.
pub fn time(ms: i64) -> String {
    hegui_cases::china_time(ms)
}

/// An HTML response with a status.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// A plain error page (for staff) with what went wrong and what to do.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head { meta charset="utf-8"; title { (status.as_u16()) } style { (PreEscaped(STYLE)) } }
                body { main {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p.err { (message) }
                    p { a href="/console" { "返回控制台 Back to the console" } }
                } }
            }
        },
    )
}

/// A bar chart as inline SVG (no JavaScript): one bar per (label, value), value labels on top.
pub fn bar_chart(title: &str, bars: &[(String, f64)], unit: &str) -> Markup {
    let w = 640.0;
    let h = 180.0;
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
    let n = bars.len().max(1) as f64;
    let bw = (w - 40.0) / n;
    html! {
        figure {
            figcaption { (title) }
            svg width=(w) height=(h + 40.0) role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
                @for (i, (label, v)) in bars.iter().enumerate() {
                    @let bh = (v / max) * h;
                    @let x = 30.0 + i as f64 * bw;
                    rect x=(x) y=(h - bh + 10.0) width=((bw - 4.0).max(1.0)) height=(bh) fill="#3b6ea5" {}
                    text x=(x) y=(h - bh + 6.0) font-size="10" { (format!("{v:.1}{unit}")) }
                    text x=(x) y=(h + 25.0) font-size="10" { (label) }
                }
            }
        }
    }
}
