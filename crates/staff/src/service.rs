//! Staff accounts, logins and sessions.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hegui_store::{StaffMember, StaffSession, Store, StoreError};
use hegui_types::{kinds, JournalEntry};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Role;

/// Session and login limits.
#[derive(Debug, Clone, Copy)]
pub struct StaffSettings {
    /// A session ends this long after login, whatever happens (ms).
    pub session_ttl_ms: i64,
    /// A session ends after this long without a request (ms).
    pub idle_ttl_ms: i64,
    /// Failed logins in a row before the account is locked.
    pub max_failures: i64,
    /// How long a lock lasts (ms).
    pub lockout_ms: i64,
}

impl Default for StaffSettings {
    fn default() -> Self {
        StaffSettings {
            session_ttl_ms: 8 * 3_600_000,
            idle_ttl_ms: 30 * 60_000,
            max_failures: 5,
            lockout_ms: 15 * 60_000,
        }
    }
}

/// A live session, as the console sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The staff member.
    pub staff: StaffMember,
    /// Their role.
    pub role: Role,
    /// The token every form must carry.
    pub csrf: String,
    /// SHA-256 of the cookie token.
    pub token_hash: String,
}

impl Session {
    /// The actor name in records: `staff:<username>`.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.staff.username)
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, presented: &str) -> bool {
        self.csrf.len() == presented.len()
            && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Why a login failed. The message never says whether the account exists.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong username or password (deliberately not saying which).
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failures: locked until the given time (Unix ms).
    #[error("too many failed logins; try again after {0}")]
    Locked(i64),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a staff operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// Bad input; the message says what to do.
    #[error("{0}")]
    Invalid(String),
    /// No such account.
    #[error("no staff account named {0:?}")]
    Unknown(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Staff accounts and sessions over the store.
#[derive(Clone)]
pub struct StaffService {
    store: Store,
    settings: StaffSettings,
    /// A hash to verify against when the username is unknown, so a login takes as long
    /// whether or not the account exists.
    dummy_hash: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of a session token, hex (what the database keeps).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String, StaffError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    // Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's minimum).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StaffError::Hash(e.to_string()))
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password: at least 12 characters, not all one kind of character.
pub fn check_password(password: &str) -> Result<(), StaffError> {
    let n = password.chars().count();
    if n < 12 {
        return Err(StaffError::Invalid(format!(
            "the password has {n} characters; use at least 12"
        )));
    }
    if n > 256 {
        return Err(StaffError::Invalid(
            "the password is longer than 256 characters".into(),
        ));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(StaffError::Invalid(
            "the password repeats one character; choose another".into(),
        ));
    }
    Ok(())
}

/// Checks a username: 3–32 of `a-z 0-9 . _ -`.
pub fn check_username(u: &str) -> Result<(), StaffError> {
    let ok = (3..=32).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StaffError::Invalid(format!(
            "username {u:?}: use 3–32 lowercase letters, digits, '.', '_' or '-'"
        )))
    }
}

impl StaffService {
    /// A service over `store`.
    pub fn new(store: Store, settings: StaffSettings) -> Result<StaffService, StaffError> {
        Ok(StaffService {
            store,
            settings,
            dummy_hash: hash_password(&random_hex(16))?,
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates an account; `actor` is who did it (`cli:root`, `staff:alice`).
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        role: Role,
        actor: &str,
    ) -> Result<StaffMember, StaffError> {
        check_username(username)?;
        check_password(password)?;
        let member = StaffMember {
            id: format!("stf_{}", uuid::Uuid::now_v7().simple()),
            username: username.to_string(),
            password_hash: hash_password(password)?,
            role: role.as_str().to_string(),
            created_at: now_ms(),
            disabled_at: None,
            failed_logins: 0,
            locked_until: None,
        };
        let entry = JournalEntry::new(
            kinds::STAFF_ACTION,
            actor,
            serde_json::json!({"action": "staff_created", "target": member.id,
                "details": {"username": username, "role": role.as_str()}}),
        );
        match self.store.create_staff(&member, &entry).await {
            Err(StoreError::Conflict(m)) => Err(StaffError::Invalid(m.to_string())),
            r => r.map(|_| member).map_err(StaffError::from),
        }
    }

    /// Changes a password, role or disabled state (ending the account's sessions).
    pub async fn update(
        &self,
        username: &str,
        password: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        actor: &str,
    ) -> Result<(), StaffError> {
        let member = self
            .store
            .staff_by_username(username)
            .await?
            .ok_or_else(|| StaffError::Unknown(username.to_string()))?;
        let hash = match password {
            Some(p) => {
                check_password(p)?;
                Some(hash_password(p)?)
            }
            None => None,
        };
        let disabled_at = disabled.map(|d| d.then(now_ms));
        let entry = JournalEntry::new(
            kinds::STAFF_ACTION,
            actor,
            serde_json::json!({"action": "staff_updated", "target": member.id,
                "details": {"username": username, "password_changed": password.is_some(),
                    "role": role.map(Role::as_str), "disabled": disabled}}),
        );
        self.store
            .update_staff(
                &member.id,
                hash.as_deref(),
                role.map(Role::as_str),
                disabled_at,
                &entry,
            )
            .await?;
        Ok(())
    }

    /// Checks a login; returns the session and the cookie token (shown once, stored hashed).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(Session, String), LoginError> {
        let now = now_ms();
        let member = self.store.staff_by_username(username).await?;
        let Some(member) = member else {
            let _ = password_matches(password, &self.dummy_hash);
            return Err(LoginError::BadCredentials);
        };
        if let Some(until) = member.locked_until.filter(|u| *u > now) {
            return Err(LoginError::Locked(until));
        }
        let role = Role::parse(&member.role);
        if !password_matches(password, &member.password_hash)
            || member.disabled_at.is_some()
            || role.is_none()
        {
            let lock = (member.failed_logins + 1 >= self.settings.max_failures)
                .then_some(now + self.settings.lockout_ms);
            self.store.staff_login_failed(&member.id, lock).await?;
            self.store
                .journal_append(&JournalEntry::new(
                    kinds::STAFF_ACTION,
                    &format!("staff:{}", member.username),
                    serde_json::json!({"action": "login_failed", "target": member.id,
                        "details": {"locked_until": lock}}),
                ))
                .await?;
            return Err(match lock {
                Some(until) => LoginError::Locked(until),
                None => LoginError::BadCredentials,
            });
        }
        let role = role.ok_or(LoginError::BadCredentials)?;
        let token = random_hex(32);
        let s = StaffSession {
            token_hash: token_hash(&token),
            staff_id: member.id.clone(),
            csrf: random_hex(32),
            created_at: now,
            expires_at: now + self.settings.session_ttl_ms,
            last_seen_at: now,
        };
        self.store.insert_session(&s).await?;
        self.store
            .journal_append(&JournalEntry::new(
                kinds::STAFF_ACTION,
                &format!("staff:{}", member.username),
                serde_json::json!({"action": "login", "target": member.id, "details": {}}),
            ))
            .await?;
        Ok((
            Session {
                staff: member,
                role,
                csrf: s.csrf,
                token_hash: s.token_hash,
            },
            token,
        ))
    }

    /// The live session for a cookie token; `None` when unknown, expired, idle too long, or
    /// the account was disabled. Notes the activity.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let now = now_ms();
        let hash = token_hash(token);
        let Some(s) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        if s.expires_at <= now || s.last_seen_at + self.settings.idle_ttl_ms <= now {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        let Some(member) = self.store.staff_by_id(&s.staff_id).await? else {
            return Ok(None);
        };
        let Some(role) = Role::parse(&member.role).filter(|_| member.disabled_at.is_none()) else {
            return Ok(None);
        };
        // Write the activity at most once a minute: reads stay reads.
        if now - s.last_seen_at > 60_000 {
            self.store.touch_session(&hash, now).await?;
        }
        Ok(Some(Session {
            staff: member,
            role,
            csrf: s.csrf,
            token_hash: hash,
        }))
    }

    /// Ends a session.
    pub async fn logout(&self, session: &Session) -> Result<(), StoreError> {
        self.store.delete_session(&session.token_hash).await?;
        self.store
            .journal_append(&JournalEntry::new(
                kinds::STAFF_ACTION,
                &session.actor(),
                serde_json::json!({"action": "logout", "target": session.staff.id, "details": {}}),
            ))
            .await
    }

    /// Records any other staff action (`export`, `suspend_user`, `verify_proof`, ...).
    pub async fn record(
        &self,
        session: &Session,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.store
            .journal_append(&JournalEntry::new(
                kinds::STAFF_ACTION,
                &session.actor(),
                serde_json::json!({"action": action, "target": target, "details": details}),
            ))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterY", &h));
        assert!(!password_matches("x", "not a phc string"));
    }

    #[test]
    fn weak_passwords_and_odd_usernames_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password("a long enough pass").is_ok());
        assert!(check_username("alice").is_ok());
        assert!(check_username("Alice").is_err());
        assert!(check_username("a").is_err());
        assert!(check_username("<script>").is_err());
    }
}
