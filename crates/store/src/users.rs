use sqlx::any::AnyRow;
use sqlx::Row;

use hegui_types::{kinds, JournalEntry, JOURNAL_ENCODING_VERSION};

use crate::journal::journal_insert;
use crate::{now_ms, Store, StoreError};

/// An end user of the provider's service, known only by a pseudonymous id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Pseudonymous id, `usr_…`.
    pub id: String,
    /// The operator's own reference for the account (must not be personal information).
    pub external_ref: Option<String>,
    /// Suspended users are refused service.
    pub suspended: bool,
    /// Real-name verified (Article 12).
    pub verified: bool,
    /// When verification was recorded (Unix ms).
    pub verified_at: Option<i64>,
    /// When the account was created (Unix ms).
    pub created_at: i64,
}

/// One recorded operator action on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// When (Unix ms).
    pub at: i64,
    /// `created`, `verified`, `unverified`, `suspended`, `unsuspended`, `key_created`, `key_revoked`.
    pub kind: String,
    /// Why, as given by the operator.
    pub reason: String,
    /// Who did it.
    pub actor: String,
}

pub(crate) const USER_COLUMNS: &str =
    "id, external_ref, suspended, verified, verified_at, created_at";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        external_ref: row.try_get("external_ref")?,
        suspended: row.try_get::<i64, _>("suspended")? != 0,
        verified: row.try_get::<i64, _>("verified")? != 0,
        verified_at: row.try_get("verified_at")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

impl Store {
    /// Creates an unverified, active user.
    pub async fn create_user(
        &self,
        external_ref: Option<&str>,
        actor: &str,
    ) -> Result<User, StoreError> {
        let id = new_id("usr");
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO users (id, external_ref, suspended, verified, created_at) VALUES ($1, $2, 0, 0, $3)")
            .bind(&id)
            .bind(external_ref)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, &id, now, "created", "", actor).await?;
        tx.commit().await?;
        self.user_required(&id).await
    }

    /// Looks a user up by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub(crate) async fn user_required(&self, id: &str) -> Result<User, StoreError> {
        self.user(id).await?.ok_or_else(|| StoreError::NotFound {
            kind: "user",
            id: id.into(),
        })
    }

    /// Lists users, newest first.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Marks a user verified (or not), recording who did it and why.
    pub async fn set_verified(
        &self,
        id: &str,
        verified: bool,
        reason: &str,
        actor: &str,
    ) -> Result<User, StoreError> {
        let now = now_ms();
        let update = sqlx::query("UPDATE users SET verified = $1, verified_at = $2 WHERE id = $3")
            .bind(i64::from(verified))
            .bind(verified.then_some(now))
            .bind(id);
        let kind = if verified { "verified" } else { "unverified" };
        self.change_user(id, update, now, kind, reason, actor).await
    }

    /// Suspends (or reinstates) a user, recording who did it and why.
    pub async fn set_suspended(
        &self,
        id: &str,
        suspended: bool,
        reason: &str,
        actor: &str,
    ) -> Result<User, StoreError> {
        let update = sqlx::query("UPDATE users SET suspended = $1 WHERE id = $2")
            .bind(i64::from(suspended))
            .bind(id);
        let kind = if suspended {
            "suspended"
        } else {
            "unsuspended"
        };
        self.change_user(id, update, now_ms(), kind, reason, actor)
            .await
    }

    /// Applies one change to a user together with its event, in one transaction.
    async fn change_user<'q>(
        &self,
        id: &str,
        update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        now: i64,
        kind: &str,
        reason: &str,
        actor: &str,
    ) -> Result<User, StoreError> {
        self.user_required(id).await?;
        let mut tx = self.begin_write().await?;
        update.execute(&mut *tx).await?;
        insert_event(&mut tx, id, now, kind, reason, actor).await?;
        tx.commit().await?;
        self.user_required(id).await
    }

    /// Every recorded action on a user, oldest first.
    pub async fn user_events(&self, id: &str) -> Result<Vec<UserEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, reason, actor FROM user_events WHERE user_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserEvent {
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    reason: r.try_get("reason")?,
                    actor: r.try_get("actor")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

pub(crate) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    at: i64,
    kind: &str,
    reason: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_events (user_id, at, kind, reason, actor) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(at)
    .bind(kind)
    .bind(reason)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    // Every operator action on an account is also a compliance record in the log.
    let entry = JournalEntry {
        v: JOURNAL_ENCODING_VERSION,
        kind: kinds::USER_EVENT.into(),
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: at,
        actor: actor.to_string(),
        body: serde_json::json!({"user_id": user_id, "event": kind, "reason": reason}),
    };
    journal_insert(tx, &entry.kind, &entry.id, at, &entry.canonical_bytes()).await
}
