//! The identity gate: API key → user → may this user be served?

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hegui_config::VerificationLevel;
use hegui_store::{key_hash, ApiKey, Factor, Store, StoreError, User};

use crate::error::ApiError;

/// Who is asking, once the gate has let them through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Pseudonymous user id.
    pub user_id: String,
    /// The key's id (never the secret).
    pub key_id: String,
    /// Verified as under 18 (minors mode applies).
    pub minor: bool,
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
    /// Checks the `Authorization` header value (if any) and that the user may be served.
    async fn admit(&self, authorization: Option<&str>) -> Result<Principal, Refusal>;

    /// Checks the key only, for the verification API itself (an unverified user must be
    /// able to verify). Deleted accounts and revoked keys are still refused.
    async fn identify(&self, authorization: Option<&str>) -> Result<Principal, Refusal>;
}

/// The gate backed by hegui's own users and keys.
pub struct StoreGate {
    store: Store,
    level: VerificationLevel,
    verify_url: String,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, ApiKey, User)>>,
}

/// Most keys remembered; beyond it the cache starts over (it only saves lookups).
const CACHE_CAPACITY: usize = 10_000;

impl StoreGate {
    /// A gate over `store` requiring `level`; `verify_url` is quoted to unverified users.
    /// Known keys are remembered for `cache_ttl` (zero: look up every time), so a
    /// revocation, suspension or verification made elsewhere takes effect within that time.
    pub fn new(
        store: Store,
        level: VerificationLevel,
        verify_url: String,
        cache_ttl: Duration,
    ) -> Self {
        StoreGate {
            store,
            level,
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

/// What an unverified user still has to do, in words and in API calls.
fn missing_steps(level: VerificationLevel, user: &User) -> Vec<&'static str> {
    let mut steps = Vec::new();
    if level.phone && !user.has(Factor::Phone) {
        steps.push("mobile number (POST /identity/v1/phone/start, then POST /identity/v1/phone/confirm with the code)");
    }
    if level.id && !user.has(Factor::Id) {
        steps.push("identity (agree to GET /identity/v1/consent with POST /identity/v1/consent, then POST /identity/v1/id/verify with name and ID number)");
    }
    steps
}

impl StoreGate {
    async fn known(
        &self,
        authorization: Option<&str>,
    ) -> Result<(ApiKey, User, Principal), Refusal> {
        let Some(header) = authorization else {
            return Err(refuse(ApiError::unauthorized(
                "missing_api_key",
                "No API key given: send `Authorization: Bearer <key>` with a key issued by `hegui keys create` or POST /identity/v1/register",
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
            minor: hegui_identity::service::is_minor_today(&user),
        };
        if user.deleted_at.is_some() {
            return Err(Refusal {
                error: ApiError::forbidden(
                    "account_deleted",
                    "This account was deleted at its holder's request and cannot be used",
                ),
                principal: Some(principal),
            });
        }
        if key.revoked_at.is_some() {
            return Err(Refusal {
                error: ApiError::unauthorized(
                    "revoked_api_key",
                    "This API key has been revoked; ask the operator for a new one",
                ),
                principal: Some(principal),
            });
        }
        Ok((key, user, principal))
    }
}

#[async_trait]
impl IdentityGate for StoreGate {
    async fn identify(&self, authorization: Option<&str>) -> Result<Principal, Refusal> {
        self.known(authorization).await.map(|(_, _, p)| p)
    }

    async fn admit(&self, authorization: Option<&str>) -> Result<Principal, Refusal> {
        let (_, user, principal) = self.known(authorization).await?;
        if user.suspended {
            return Err(Refusal {
                error: ApiError::forbidden(
                    "account_suspended",
                    "This account is suspended and cannot be served; contact the service's complaint channel to appeal",
                ),
                principal: Some(principal),
            });
        }
        let missing = missing_steps(self.level, &user);
        if !missing.is_empty() {
            return Err(Refusal {
                error: ApiError::forbidden(
                    "real_name_verification_required",
                    format!(
                        "Real-name verification is required before service (Interim Measures for Generative AI Services, Art. 12). Still to verify: {}. Check progress at {}, then retry",
                        missing.join("; "),
                        self.verify_url
                    ),
                ),
                principal: Some(principal),
            });
        }
        Ok(principal)
    }
}
