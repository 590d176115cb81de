//! The public complaint channel and the compliance console.
//!
//! - `/complaints…`: a page that works without JavaScript, in Chinese with an English toggle,
//!   and a JSON API, for members of the public; no login.
//! - `/console…`: server-rendered pages for compliance staff. Every route is in [`ROUTES`] with
//!   the permission it needs; every handler checks it first ([`auth`]); every form carries the
//!   session's CSRF token.
//!
//! Architecture invariant: no SQL here (storage is `hegui-store`), no workflow logic (that is
//! `hegui-cases` and `hegui-staff`): handlers parse, call a service, render.

mod auth;
mod dashboard;
mod incidents;
mod layout;
mod limiter;
mod public;
mod records;
mod staff_pages;
mod workflow;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use hegui_cases::{CaseService, IncidentService};
use hegui_staff::{Permission, StaffService};
use hegui_store::Store;

pub use auth::{CSRF_COOKIE, SESSION_COOKIE};
pub use limiter::{client_ip, RateLimiter};

/// Produces an inspection bundle for a period (the CLI and the console share it).
pub type Exporter = Arc<
    dyn Fn(
            i64,
            i64,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, String>> + Send>>
        + Send
        + Sync,
>;

/// Everything the pages need.
pub struct Console {
    /// Complaints.
    pub cases: Arc<CaseService>,
    /// Incidents.
    pub incidents: IncidentService,
    /// Staff accounts and sessions.
    pub staff: StaffService,
    /// The database (read-only views).
    pub store: Store,
    /// The log's public key (shown, and used to check proofs).
    pub ledger_key: hegui_ledger::Verifier,
    /// Send cookies with `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// Complaints per address per hour.
    pub complaints: RateLimiter,
    /// Login attempts per address per 15 minutes.
    pub logins: RateLimiter,
    /// Header with the client address behind a proxy.
    pub client_ip_header: Option<String>,
    /// The inspection export, when configured.
    pub exporter: Option<Exporter>,
}

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// One console route and who may use it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// GET or POST.
    pub method: Method,
    /// The path, with `{param}` placeholders.
    pub path: &'static str,
    /// `None`: public (no login).
    pub permission: Option<Permission>,
}

const fn r(method: Method, path: &'static str, permission: Option<Permission>) -> RouteSpec {
    RouteSpec {
        method,
        path,
        permission,
    }
}

use Method::{Get, Post};
use Permission::*;

/// Every route this crate serves, with its permission: the matrix the role test checks.
pub const ROUTES: &[RouteSpec] = &[
    r(Get, "/complaints", None),
    r(Post, "/complaints", None),
    r(Get, "/complaints/track", None),
    r(Post, "/complaints/v1", None),
    r(Get, "/complaints/v1/{receipt}", None),
    r(Get, "/complaints/v1/content/{produce_id}", None),
    r(Get, "/console/login", None),
    r(Post, "/console/login", None),
    r(Post, "/console/logout", Some(ViewDashboard)),
    r(Get, "/console", Some(ViewDashboard)),
    r(Get, "/console/complaints", Some(ViewComplaints)),
    r(Get, "/console/complaints/{receipt}", Some(ViewComplaints)),
    r(
        Post,
        "/console/complaints/{receipt}/review",
        Some(HandleComplaints),
    ),
    r(
        Post,
        "/console/complaints/{receipt}/resolve",
        Some(HandleComplaints),
    ),
    r(
        Post,
        "/console/complaints/{receipt}/reject",
        Some(HandleComplaints),
    ),
    r(Get, "/console/interactions", Some(ViewInteractions)),
    r(Get, "/console/interactions/{id}", Some(ViewInteractions)),
    r(Get, "/console/users", Some(ViewUsers)),
    r(Post, "/console/users/{id}/suspend", Some(SuspendUsers)),
    r(Post, "/console/users/{id}/reinstate", Some(SuspendUsers)),
    r(Get, "/console/policy", Some(ViewDashboard)),
    r(
        Post,
        "/console/policy/proposals/{id}",
        Some(DecideProposals),
    ),
    r(Get, "/console/ledger", Some(ViewDashboard)),
    r(Get, "/console/incidents", Some(ViewIncidents)),
    r(Post, "/console/incidents", Some(ManageIncidents)),
    r(Get, "/console/incidents/{id}", Some(ViewIncidents)),
    r(
        Post,
        "/console/incidents/{id}/events",
        Some(ManageIncidents),
    ),
    r(Get, "/console/incidents/{id}/report", Some(ViewIncidents)),
    r(Get, "/console/export", Some(Export)),
    r(Post, "/console/export", Some(Export)),
    r(Get, "/console/staff", Some(ManageStaff)),
    r(Post, "/console/staff", Some(ManageStaff)),
    r(Post, "/console/staff/{username}", Some(ManageStaff)),
];

/// The routes, with `console` as their state.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route(
            "/complaints",
            get(public::form_page).post(public::submit_form),
        )
        .route("/complaints/track", get(public::track_page))
        .route("/complaints/v1", post(public::api_file))
        .route("/complaints/v1/{receipt}", get(public::api_status))
        .route(
            "/complaints/v1/content/{produce_id}",
            get(public::api_content),
        )
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console", get(dashboard::dashboard))
        .route("/console/complaints", get(workflow::queue))
        .route("/console/complaints/{receipt}", get(workflow::case_page))
        .route(
            "/console/complaints/{receipt}/review",
            post(workflow::take_review),
        )
        .route(
            "/console/complaints/{receipt}/resolve",
            post(workflow::resolve),
        )
        .route(
            "/console/complaints/{receipt}/reject",
            post(workflow::reject),
        )
        .route("/console/interactions", get(records::interactions))
        .route("/console/interactions/{id}", get(records::interaction))
        .route("/console/users", get(records::users))
        .route("/console/users/{id}/suspend", post(records::suspend))
        .route("/console/users/{id}/reinstate", post(records::reinstate))
        .route("/console/policy", get(dashboard::policy))
        .route(
            "/console/policy/proposals/{id}",
            post(dashboard::decide_proposal),
        )
        .route("/console/ledger", get(dashboard::ledger))
        .route(
            "/console/incidents",
            get(incidents::list).post(incidents::open),
        )
        .route("/console/incidents/{id}", get(incidents::page))
        .route("/console/incidents/{id}/events", post(incidents::add_event))
        .route("/console/incidents/{id}/report", get(incidents::report))
        .route(
            "/console/export",
            get(staff_pages::export_page).post(staff_pages::export),
        )
        .route(
            "/console/staff",
            get(staff_pages::list).post(staff_pages::create),
        )
        .route("/console/staff/{username}", post(staff_pages::update))
        .with_state(console)
}
