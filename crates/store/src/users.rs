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
    /// When the account was created (Unix ms).
    pub created_at: i64,
    /// `person` or `organisation`.
    pub kind: String,
    /// An organisation's unified social credit code (public business information, not PI).
    pub org_code: Option<String>,
    /// When the data subject's deletion request was carried out (Unix ms).
    pub deleted_at: Option<i64>,
    /// When the mobile number was verified (Unix ms), by one-time code or by an operator.
    pub phone_verified_at: Option<i64>,
    /// When the identity (ID number + name) was verified (Unix ms).
    pub id_verified_at: Option<i64>,
    /// Masked mobile number (`138****5678`), for display.
    pub phone_masked: Option<String>,
    /// Masked ID number (`110***********002X`), for display.
    pub id_masked: Option<String>,
    /// The day the user turns 18 (`YYYY-MM-DD`), set only for users verified as minors.
    pub minor_until: Option<String>,
}

/// A real-name verification factor (Article 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// Mobile number, by one-time code.
    Phone,
    /// Resident ID number and name, checked with an identity authority.
    Id,
}

impl Factor {
    /// `phone` or `id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Phone => "phone",
            Factor::Id => "id",
        }
    }
}

impl User {
    /// Whether the user has this factor verified.
    pub fn has(&self, factor: Factor) -> bool {
        match factor {
            Factor::Phone => self.phone_verified_at.is_some(),
            Factor::Id => self.id_verified_at.is_some(),
        }
    }

    /// Whether the user is a minor on `today` (`YYYY-MM-DD`, the service's local date).
    pub fn is_minor_on(&self, today: &str) -> bool {
        self.minor_until.as_deref().is_some_and(|d| today < d)
    }
}

/// One recorded operator action on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// When (Unix ms).
    pub at: i64,
    /// `created`, `phone_verified`, `id_verified`, `phone_unverified`, `id_unverified`,
    /// `suspended`, `unsuspended`, `key_created`, `key_revoked`, `deleted`.
    pub kind: String,
    /// Why, as given by the operator.
    pub reason: String,
    /// Who did it.
    pub actor: String,
}

/// The columns of a [`User`]: `users u LEFT JOIN identities i ON i.user_id = u.id`.
pub(crate) const USER_COLUMNS: &str = "u.id, u.external_ref, u.suspended, u.created_at, u.kind, \
     u.org_code, u.deleted_at, i.phone_verified_at, i.id_verified_at, i.phone_masked, \
     i.id_masked, i.minor_until";

/// The join every user query reads from.
pub(crate) const USER_FROM: &str = "users u LEFT JOIN identities i ON i.user_id = u.id";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        external_ref: row.try_get("external_ref")?,
        suspended: row.try_get::<i64, _>("suspended")? != 0,
        created_at: row.try_get("created_at")?,
        kind: row.try_get("kind")?,
        org_code: row.try_get("org_code")?,
        deleted_at: row.try_get("deleted_at")?,
        phone_verified_at: row.try_get("phone_verified_at")?,
        id_verified_at: row.try_get("id_verified_at")?,
        phone_masked: row.try_get("phone_masked")?,
        id_masked: row.try_get("id_masked")?,
        minor_until: row.try_get("minor_until")?,
    })
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

impl Store {
    /// Creates an unverified, active person account.
    pub async fn create_user(
        &self,
        external_ref: Option<&str>,
        actor: &str,
    ) -> Result<User, StoreError> {
        self.create_account(external_ref, None, actor).await
    }

    /// Creates an unverified, active account: a person, or an organisation when `org_code`
    /// (its unified social credit code, already validated) is given.
    pub async fn create_account(
        &self,
        external_ref: Option<&str>,
        org_code: Option<&str>,
        actor: &str,
    ) -> Result<User, StoreError> {
        let id = new_id("usr");
        let now = now_ms();
        let kind = if org_code.is_some() {
            "organisation"
        } else {
            "person"
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO users (id, external_ref, suspended, verified, created_at, kind, org_code) VALUES ($1, $2, 0, 0, $3, $4, $5)")
            .bind(&id)
            .bind(external_ref)
            .bind(now)
            .bind(kind)
            .bind(org_code)
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, &id, now, "created", "", actor).await?;
        tx.commit().await?;
        self.user_required(&id).await
    }

    /// Looks a user up by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM {USER_FROM} WHERE u.id = $1"
        ))
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
            "SELECT {USER_COLUMNS} FROM {USER_FROM} ORDER BY u.created_at DESC, u.id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Records (or withdraws) one verification factor done by an operator offline, with who
    /// did it and why. Withdrawing the ID factor also forgets the minor flag.
    pub async fn set_factor_by_operator(
        &self,
        id: &str,
        factor: Factor,
        verified: bool,
        reason: &str,
        actor: &str,
    ) -> Result<User, StoreError> {
        let now = now_ms();
        self.user_required(id).await?;
        let mut tx = self.begin_write().await?;
        ensure_identity_row(&mut tx, id).await?;
        let sql = match (factor, verified) {
            (Factor::Phone, true) => "UPDATE identities SET phone_verified_at = $2, phone_method = 'operator' WHERE user_id = $1",
            (Factor::Phone, false) => "UPDATE identities SET phone_verified_at = NULL, phone_method = NULL WHERE user_id = $1",
            (Factor::Id, true) => "UPDATE identities SET id_verified_at = $2, id_method = 'operator' WHERE user_id = $1",
            (Factor::Id, false) => "UPDATE identities SET id_verified_at = NULL, id_method = NULL, minor_until = NULL WHERE user_id = $1",
        };
        let query = sqlx::query(sql).bind(id);
        let query = if verified { query.bind(now) } else { query };
        query.execute(&mut *tx).await?;
        let kind = format!(
            "{}_{}",
            factor.as_str(),
            if verified { "verified" } else { "unverified" }
        );
        insert_event(&mut tx, id, now, &kind, reason, actor).await?;
        tx.commit().await?;
        self.user_required(id).await
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

    /// Adds one event to the account's history (and the log) without changing the account.
    pub async fn note_user_event(
        &self,
        id: &str,
        kind: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_event(&mut tx, id, now_ms(), kind, reason, actor).await?;
        tx.commit().await?;
        Ok(())
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

/// Makes sure the user has an `identities` row to update.
pub(crate) async fn ensure_identity_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO identities (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
