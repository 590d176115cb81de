//! The errors of this crate: one for a guard call that failed, one for a configuration that
//! cannot be used.

use std::{fmt, time::Duration};

/// Why a guard call produced no verdict.
///
/// Every variant names the guard and says what to check. A [`crate::FallbackGuard`] turns any
/// of them into a verdict according to the deployment's [`crate::Fallback`] policy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The request cannot be reviewed as given (a caller error, not a guard failure).
    #[error("guard `{guard}` cannot review this request: {detail}")]
    InvalidRequest {
        /// Name of the guard.
        guard: String,
        /// What is wrong with the request.
        detail: String,
    },
    /// No answer (headers and whole body) within the configured total timeout.
    #[error(
        "guard `{guard}` did not answer within {} ms; check that the guard server is up and \
         not overloaded, or raise `timeout_ms`",
        after.as_millis()
    )]
    Timeout {
        /// Name of the guard.
        guard: String,
        /// The configured total timeout.
        after: Duration,
    },
    /// The TCP/TLS connection to the guard server could not be made.
    #[error(
        "guard `{guard}` could not connect to {url}: {detail}; check `base_url` and that the \
         guard server is listening"
    )]
    Connect {
        /// Name of the guard.
        guard: String,
        /// The endpoint URL.
        url: String,
        /// The transport's description of the failure.
        detail: String,
    },
    /// The guard server answered HTTP 429.
    #[error(
        "guard `{guard}` is rate limited (HTTP 429{}); lower the request rate or raise the guard \
         server's limits",
        retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        /// Name of the guard.
        guard: String,
        /// The server's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
    },
    /// The guard server answered with another non-success status (5xx, 401, 404, ...).
    #[error(
        "guard `{guard}` answered HTTP {status}: {body}; {}",
        status_hint(*status)
    )]
    Status {
        /// Name of the guard.
        guard: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, for the log.
        body: String,
    },
    /// The response body is larger than `max_response_bytes`.
    #[error(
        "guard `{guard}` sent a response larger than {limit} bytes; check that `base_url` and \
         `model` point at a guard model, or raise `max_response_bytes`"
    )]
    ResponseTooLarge {
        /// Name of the guard.
        guard: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The HTTP body is not the JSON shape of the endpoint (chat completion or moderation).
    #[error(
        "guard `{guard}` sent a malformed response ({detail}); check that `base_url` is an \
         OpenAI-compatible server and `kind` matches its API"
    )]
    Malformed {
        /// Name of the guard.
        guard: String,
        /// What was wrong with the body.
        detail: String,
    },
    /// The body was well-formed but the model's text does not follow its verdict format.
    #[error(
        "guard `{guard}` replied in an unexpected format ({detail}): {content:?}; check that \
         `kind` matches the model being served"
    )]
    UnexpectedVerdict {
        /// Name of the guard.
        guard: String,
        /// What the parser expected.
        detail: String,
        /// The start of the model's reply.
        content: String,
    },
    /// Another transport failure (connection reset mid-body, invalid HTTP, ...).
    #[error("guard `{guard}` request failed: {detail}; check the guard server's logs")]
    Transport {
        /// Name of the guard.
        guard: String,
        /// The transport's description of the failure.
        detail: String,
    },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "check `api_key` and `api_key_header`",
        404 => "check `base_url` (the `/v1/...` path is added by hegui) and `model`",
        500..=599 => "the guard server failed; check its logs",
        _ => "check the guard server's logs",
    }
}

impl GuardError {
    /// A short, stable code for the kind of failure (recorded in degraded verdicts and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::InvalidRequest { .. } => "invalid_request",
            GuardError::Timeout { .. } => "timeout",
            GuardError::Connect { .. } => "connect",
            GuardError::RateLimited { .. } => "rate_limited",
            GuardError::Status { status, .. } if *status >= 500 => "server_error",
            GuardError::Status { .. } => "http_status",
            GuardError::ResponseTooLarge { .. } => "too_large",
            GuardError::Malformed { .. } => "malformed",
            GuardError::UnexpectedVerdict { .. } => "unexpected_verdict",
            GuardError::Transport { .. } => "transport",
        }
    }
}

/// One problem found in a [`crate::GuardConfig`], with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The configuration key, e.g. `base_url` or `thresholds.unsafe_score`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// A guard configuration that cannot be used; lists every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid guard configuration `{guard}`:{}", list(problems))]
pub struct ConfigError {
    /// Name of the guard (or its kind when it has no name).
    pub guard: String,
    /// The problems, in the order of the configuration's fields.
    pub problems: Vec<ConfigProblem>,
}

fn list(problems: &[ConfigProblem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// Shortens `s` to at most `max` bytes on a character boundary, for error messages.
pub(crate) fn snippet(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_never_splits_a_character() {
        assert_eq!(snippet("炸弹炸弹", 4), "炸…");
        assert_eq!(snippet("abc", 10), "abc");
    }

    #[test]
    fn codes_distinguish_server_errors_from_other_statuses() {
        let status = |status| GuardError::Status {
            guard: "g".into(),
            status,
            body: String::new(),
        };
        assert_eq!(status(503).code(), "server_error");
        assert_eq!(status(404).code(), "http_status");
    }

    #[test]
    fn config_error_lists_every_problem() {
        let e = ConfigError {
            guard: "g".into(),
            problems: vec![
                ConfigProblem {
                    key: "a".into(),
                    message: "x".into(),
                },
                ConfigProblem {
                    key: "b".into(),
                    message: "y".into(),
                },
            ],
        };
        let text = e.to_string();
        assert!(text.contains("`a`: x") && text.contains("`b`: y"), "{text}");
    }
}
