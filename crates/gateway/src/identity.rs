//! The identity gate: API key → user → may this user be served?

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hegui_store::{key_hash, ApiKey, Store, StoreError, User};

use crate::error::ApiError;

/// Who is asking, once the gate has let them through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Pseudonymous user id.
    pub user_id: String,
    /// The key's id (never the secret).
    pub key_id: String,
}

/// Why the gate refused, with as much identity as was established (for the record).
#[derive(Debug)]
pub struct Refusal {
    /// The error answered to the client.
    pub error: ApiError,
    /// The user, when the key was valid but the user may not be served.
    pub principal: Option<Principal>,
}

/// The identity stage: one job, decide whether the bearer of a key may be served.
#[async_trait]
pub trait IdentityGate: Send + Sync + 'static {
    /// Checks the `Authorization` header value (if any).
    async fn admit(&self, authorization: Option<&str>) -> Result<Principal, Refusal>;
}

/// The gate backed by hegui's own users and keys.
pub struct StoreGate {
    store: Store,
    require_verification: bool,
    verify_url: String,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, ApiKey, User)>>,
}

/// Most keys remembered; beyond it the cache starts over (it only saves lookups).
const CACHE_CAPACITY: usize = 10_000;

impl StoreGate {
    /// A gate over `store`; `verify_url` is quoted to unverified users. Known keys are
    /// remembered for `cache_ttl` (zero: look up every time), so a revocation, suspension or
    /// verification made elsewhere takes effect within that time.
    pub fn new(
        store: Store,
        require_verification: bool,
        verify_url: String,
        cache_ttl: Duration,
    ) -> Self {
        StoreGate {
            store,
            require_verification,
            verify_url,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn lookup(&self, secret: &str) -> Result<Option<(ApiKey, User)>, StoreError> {
        if self.cache_ttl.is_zero() {
            return self.store.authenticate(secret).await;
        }
        let hash = key_hash(secret);
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, key, user)) = cache.get(&hash) {
                if at.elapsed() < self.cache_ttl {
                    return Ok(Some((key.clone(), user.clone())));
                }
            }
        }
        let found = self.store.authenticate(secret).await?;
        if let (Some((key, user)), Ok(mut cache)) = (&found, self.cache.lock()) {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(hash, (Instant::now(), key.clone(), user.clone()));
        }
        Ok(found)
    }
}

fn refuse(error: ApiError) -> Refusal {
    Refusal {
        error,
        principal: None,
    }
}

#[async_trait]
impl IdentityGate for StoreGate {
    async fn admit(&self, authorization: Option<&str>) -> Result<Principal, Refusal> {
        let Some(header) = authorization else {
            return Err(refuse(ApiError::unauthorized(
                "missing_api_key",
                "No API key given: send `Authorization: Bearer <key>` with a key issued by `hegui keys create`",
            )));
        };
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                refuse(ApiError::unauthorized(
                    "invalid_authorization",
                    "The Authorization header must be `Bearer <key>`",
                ))
            })?;
        let found = self.lookup(secret).await.map_err(|e: StoreError| {
            tracing::error!(error = %e, "key lookup failed");
            refuse(ApiError::record_unavailable())
        })?;
        let Some((key, user)) = found else {
            return Err(refuse(ApiError::unauthorized(
                "invalid_api_key",
                "Incorrect API key provided; ask the operator for a key (`hegui keys create`)",
            )));
        };
        let principal = Principal {
            user_id: user.id.clone(),
            key_id: key.id.clone(),
        };
        if key.revoked_at.is_some() {
            return Err(Refusal {
                error: ApiError::unauthorized(
                    "revoked_api_key",
                    "This API key has been revoked; ask the operator for a new one",
                ),
                principal: Some(principal),
            });
        }
        if user.suspended {
            return Err(Refusal {
                error: ApiError::forbidden(
                    "account_suspended",
                    "This account is suspended and cannot be served; contact the service's complaint channel to appeal",
                ),
                principal: Some(principal),
            });
        }
        if self.require_verification && !user.verified {
            return Err(Refusal {
                error: ApiError::forbidden(
                    "real_name_verification_required",
                    format!(
                        "Real-name verification is required before service (Interim Measures for Generative AI Services, Art. 12). Complete verification at {} and retry",
                        self.verify_url
                    ),
                ),
                principal: Some(principal),
            });
        }
        Ok(principal)
    }
}
