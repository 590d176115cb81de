use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::users::{insert_event, new_id, user_from_row, User, USER_COLUMNS};
use crate::{now_ms, Store, StoreError};

/// An API key's stored form: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id, `key_…` (what records and logs show).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Revocation time (Unix ms), if revoked.
    pub revoked_at: Option<i64>,
}

/// Hash under which a key secret is stored and looked up.
///
/// Plain SHA-256 rather than a password hash: secrets are 256 random bits, so there is nothing
/// to brute-force, and the lookup runs on every request.
pub fn key_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn key_from_row(row: &AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: row.try_get("key_id")?,
        user_id: row.try_get("user_id")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("key_created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const KEY_COLUMNS: &str =
    "k.id AS key_id, k.user_id, k.prefix, k.created_at AS key_created_at, k.revoked_at";

impl Store {
    /// Issues a new key for a user; returns its record and the secret (shown once).
    pub async fn create_key(
        &self,
        user_id: &str,
        actor: &str,
    ) -> Result<(ApiKey, String), StoreError> {
        self.user_required(user_id).await?;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!(
            "hg-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let id = new_id("key");
        let prefix: String = secret.chars().take(10).collect();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(key_hash(&secret))
        .bind(&prefix)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, user_id, now, "key_created", &id, actor).await?;
        tx.commit().await?;
        let key = ApiKey {
            id,
            user_id: user_id.into(),
            prefix,
            created_at: now,
            revoked_at: None,
        };
        Ok((key, secret))
    }

    /// Revokes a key; later requests with it get 401.
    pub async fn revoke_key(&self, key_id: &str, actor: &str) -> Result<ApiKey, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "key",
            id: key_id.into(),
        })?;
        let mut key = key_from_row(&row)?;
        if key.revoked_at.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
            insert_event(&mut tx, &key.user_id, now, "key_revoked", key_id, actor).await?;
            key.revoked_at = Some(now);
        }
        tx.commit().await?;
        Ok(key)
    }

    /// Lists keys, of one user or all.
    pub async fn list_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let rows = match user_id {
            Some(u) => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 ORDER BY k.created_at, k.id"
                ))
                .bind(u)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys k ORDER BY k.created_at, k.id"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows.iter().map(key_from_row).collect::<Result<_, _>>()?)
    }

    /// Finds the key (revoked or not) and its user for a presented secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<(ApiKey, User)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {USER_COLUMNS} \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             LEFT JOIN identities i ON i.user_id = u.id WHERE k.hash = $1"
        ))
        .bind(key_hash(secret))
        .fetch_optional(self.pool())
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((key_from_row(&r)?, user_from_row(&r)?))),
        }
    }
}
