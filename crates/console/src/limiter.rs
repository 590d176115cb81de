//! Per-address abuse limits and the client address behind an optional proxy header.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// A sliding-window limit: at most `limit` events per key per `window`.
///
/// Hand-written because it is twenty lines: the rate-limit crates (governor) model token
/// buckets, whose "retry after" for a window limit is not what we tell people.
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `limit` events per key per `window`.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an event for `key`; `Err(seconds to wait)` when over the limit.
    pub fn admit(&self, key: &str) -> Result<(), u64> {
        let Ok(mut map) = self.events.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let window = self.window;
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = map.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= self.limit {
            return Err(q
                .front()
                .map(|t| window.saturating_sub(now.duration_since(*t)).as_secs() + 1)
                .unwrap_or(window.as_secs()));
        }
        q.push_back(now);
        Ok(())
    }
}

/// The client's address: the first entry of `header` when configured and present (a trusted
/// proxy sets it), else the TCP peer.
pub fn client_ip(header: Option<&str>, headers: &HeaderMap, ext: &Extensions) -> String {
    if let Some(h) = header {
        if let Some(first) = headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_string();
        }
    }
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_limit_holds_per_key() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.admit("a").is_ok());
        assert!(l.admit("a").is_ok());
        let wait = l.admit("a").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.admit("b").is_ok());
    }
}
