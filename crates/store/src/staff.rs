//! Compliance staff accounts and their console sessions.
//!
//! Passwords arrive here already hashed (Argon2id PHC strings) and session tokens as SHA-256:
//! the store never sees a secret.

use hegui_types::JournalEntry;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::journal::journal_entry_insert;
use crate::{Store, StoreError};

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// `stf_…`.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `admin`, `compliance_officer`, `reviewer` or `inspector`.
    pub role: String,
    /// Unix ms.
    pub created_at: i64,
    /// Disabled accounts cannot log in.
    pub disabled_at: Option<i64>,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// No login before this time (Unix ms).
    pub locked_until: Option<i64>,
}

/// A console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// SHA-256 of the cookie's token, hex.
    pub token_hash: String,
    /// Whose.
    pub staff_id: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// Unix ms.
    pub created_at: i64,
    /// Hard expiry (Unix ms).
    pub expires_at: i64,
    /// Last request (Unix ms), for the idle timeout.
    pub last_seen_at: i64,
}

const STAFF_COLUMNS: &str =
    "id, username, password_hash, role, created_at, disabled_at, failed_logins, locked_until";

fn staff_row(r: &AnyRow) -> Result<StaffMember, sqlx::Error> {
    Ok(StaffMember {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        role: r.try_get("role")?,
        created_at: r.try_get("created_at")?,
        disabled_at: r.try_get("disabled_at")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
    })
}

impl Store {
    /// Creates a staff account and records who created it.
    pub async fn create_staff(
        &self,
        s: &StaffMember,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 AS one FROM staff WHERE username = $1")
            .bind(&s.username)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::Conflict(
                "a staff account with this username exists; choose another",
            ));
        }
        sqlx::query(&format!(
            "INSERT INTO staff ({STAFF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.id)
        .bind(&s.username)
        .bind(&s.password_hash)
        .bind(&s.role)
        .bind(s.created_at)
        .bind(s.disabled_at)
        .bind(s.failed_logins)
        .bind(s.locked_until)
        .execute(&mut *tx)
        .await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A staff account by login name.
    pub async fn staff_by_username(
        &self,
        username: &str,
    ) -> Result<Option<StaffMember>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(staff_row).transpose()?)
    }

    /// A staff account by id.
    pub async fn staff_by_id(&self, id: &str) -> Result<Option<StaffMember>, StoreError> {
        let row = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(staff_row).transpose()?)
    }

    /// Every staff account, by name.
    pub async fn list_staff(&self) -> Result<Vec<StaffMember>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff ORDER BY username"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(staff_row).collect::<Result<_, _>>()?)
    }

    /// Updates a staff account's password hash, role or disabled state (each `None` keeps
    /// it), ends its sessions when disabled or when the password changed, and records the
    /// change.
    pub async fn update_staff(
        &self,
        id: &str,
        password_hash: Option<&str>,
        role: Option<&str>,
        disabled_at: Option<Option<i64>>,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(current) =
            sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(staff_row)
                .transpose()?
        else {
            return Err(StoreError::NotFound {
                kind: "staff member",
                id: id.to_string(),
            });
        };
        let disabled = disabled_at.unwrap_or(current.disabled_at);
        sqlx::query(
            "UPDATE staff SET password_hash = $1, role = $2, disabled_at = $3, \
             failed_logins = 0, locked_until = NULL WHERE id = $4",
        )
        .bind(password_hash.unwrap_or(&current.password_hash))
        .bind(role.unwrap_or(&current.role))
        .bind(disabled)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if password_hash.is_some() || matches!(disabled_at, Some(Some(_))) || role.is_some() {
            sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a failed login; `lock_until` (when given) locks the account until then.
    pub async fn staff_login_failed(
        &self,
        id: &str,
        lock_until: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE staff SET failed_logins = failed_logins + 1, \
             locked_until = COALESCE($1, locked_until) WHERE id = $2",
        )
        .bind(lock_until)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Starts a session after a successful login (and clears the failure count).
    pub async fn insert_session(&self, s: &StaffSession) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE staff SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(&s.staff_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(&s.staff_id)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session by its token hash.
    pub async fn session(&self, token_hash: &str) -> Result<Option<StaffSession>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, staff_id, csrf, created_at, expires_at, last_seen_at \
             FROM staff_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| -> Result<StaffSession, sqlx::Error> {
                Ok(StaffSession {
                    token_hash: r.try_get("token_hash")?,
                    staff_id: r.try_get("staff_id")?,
                    csrf: r.try_get("csrf")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                })
            })
            .transpose()?)
    }

    /// Notes activity on a session (for the idle timeout).
    pub async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(at)
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends a session (logout or expiry).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
