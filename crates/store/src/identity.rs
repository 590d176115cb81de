//! Storage for real-name verification: encrypted identity fields, one-time-code challenges,
//! consents, and the data subject's deletion.
//!
//! This module stores opaque strings: ciphertexts (`*_enc`), blind indexes (`*_index`) and
//! masked display forms. It never sees a plaintext phone or ID number; the `hegui-identity`
//! crate encrypts before calling it. Every state change is written in one transaction with the
//! compliance record (`identity_check`, `user_event`) that describes it.

use sqlx::any::AnyRow;
use sqlx::Row;

use hegui_types::JournalEntry;

use crate::journal::journal_entry_insert;
use crate::users::{ensure_identity_row, insert_event, User};
use crate::{now_ms, Store, StoreError};

/// A one-time-code challenge as stored: the code only as an HMAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    /// Challenge id (`otp_…`).
    pub id: String,
    /// The account being verified.
    pub user_id: String,
    /// The mobile number, encrypted.
    pub phone_enc: String,
    /// Blind index of the mobile number.
    pub phone_index: String,
    /// Blind index of the requesting IP address.
    pub ip_index: String,
    /// HMAC of the code.
    pub code_hash: String,
    /// When it was sent (Unix ms).
    pub created_at: i64,
    /// When it stops being accepted (Unix ms).
    pub expires_at: i64,
    /// Wrong or right attempts made so far.
    pub attempts: i64,
    /// When it was used successfully (Unix ms).
    pub consumed_at: Option<i64>,
}

/// A verified mobile number to store for a user.
#[derive(Debug, Clone)]
pub struct PhoneBinding<'a> {
    /// Ciphertext.
    pub enc: &'a str,
    /// Blind index (unique across accounts).
    pub index: &'a str,
    /// Display form.
    pub masked: &'a str,
    /// `otp` or `operator`.
    pub method: &'a str,
}

/// A verified identity to store for a user.
#[derive(Debug, Clone)]
pub struct IdBinding<'a> {
    /// Ciphertext of the ID number, or `None` when the deployment keeps only the result.
    pub enc: Option<&'a str>,
    /// Blind index of the ID number (unique across accounts).
    pub index: &'a str,
    /// Display form.
    pub masked: &'a str,
    /// `authority` or `operator`.
    pub method: &'a str,
    /// The day the user turns 18, when a minor.
    pub minor_until: Option<&'a str>,
}

/// One consent given (and perhaps withdrawn) by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// What the consent is for, e.g. `sensitive_pi`.
    pub purpose: String,
    /// Version of the text the user agreed to.
    pub text_version: String,
    /// SHA-256 of that text.
    pub text_sha256: String,
    /// When it was given (Unix ms).
    pub given_at: i64,
    /// When it was withdrawn (Unix ms).
    pub withdrawn_at: Option<i64>,
}

/// The encrypted fields of one account, for key rotation and for the data subject's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCiphertexts {
    /// The account.
    pub user_id: String,
    /// Mobile number ciphertext.
    pub phone_enc: Option<String>,
    /// ID number ciphertext.
    pub id_enc: Option<String>,
}

/// What a deletion erased and what it had to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionReport {
    /// The account.
    pub user_id: String,
    /// When (Unix ms).
    pub at: i64,
    /// Encrypted identity fields erased (phone, ID number, their indexes and masks).
    pub identity_erased: bool,
    /// One-time-code challenges deleted.
    pub challenges_deleted: u64,
    /// API keys revoked.
    pub keys_revoked: u64,
    /// Interaction records kept until their retention ends (pseudonymous; content is erased by
    /// the retention purge).
    pub interactions_kept: u64,
    /// Consent records kept (evidence of lawful processing; they hold no personal data).
    pub consents_kept: u64,
}

fn challenge_from_row(r: &AnyRow) -> Result<OtpChallenge, sqlx::Error> {
    Ok(OtpChallenge {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        phone_enc: r.try_get("phone_enc")?,
        phone_index: r.try_get("phone_index")?,
        ip_index: r.try_get("ip_index")?,
        code_hash: r.try_get("code_hash")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        attempts: r.try_get("attempts")?,
        consumed_at: r.try_get("consumed_at")?,
    })
}

const CHALLENGE_COLUMNS: &str = "id, user_id, phone_enc, phone_index, ip_index, code_hash, \
     created_at, expires_at, attempts, consumed_at";

/// Which blind index a rate limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCounter {
    /// Codes sent to one number.
    Phone,
    /// Codes requested from one IP address.
    Ip,
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

impl Store {
    /// Stores a new challenge (the code was sent) with its compliance record.
    pub async fn otp_create(
        &self,
        c: &OtpChallenge,
        record: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO otp_challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.phone_enc)
        .bind(&c.phone_index)
        .bind(&c.ip_index)
        .bind(&c.code_hash)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.attempts)
        .bind(c.consumed_at)
        .execute(&mut *tx)
        .await?;
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's most recent challenge, used or not.
    pub async fn otp_latest(&self, user_id: &str) -> Result<Option<OtpChallenge>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM otp_challenges WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(challenge_from_row).transpose()?)
    }

    /// How many codes were sent since `since_ms` to one number or for one IP address.
    pub async fn otp_count_since(
        &self,
        by: OtpCounter,
        index: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let column = match by {
            OtpCounter::Phone => "phone_index",
            OtpCounter::Ip => "ip_index",
        };
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM otp_challenges WHERE {column} = $1 AND created_at >= $2"
        ))
        .bind(index)
        .bind(since_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Counts one attempt against a challenge before the code is compared, and returns the
    /// number of attempts including this one. Counting first means concurrent guesses cannot
    /// exceed the limit between a read and a write.
    pub async fn otp_count_attempt(&self, id: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar("SELECT attempts FROM otp_challenges WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Records a compliance record alone (a failed attempt, a provider outage, ...).
    pub async fn identity_record(&self, record: &JournalEntry) -> Result<(), StoreError> {
        self.journal_append(record).await
    }

    /// Marks the challenge used and binds the verified number to the user, with its record.
    /// `Ok(None)` when the challenge was used meanwhile (nothing changes); fails with
    /// [`StoreError::Conflict`] when another account holds the number.
    pub async fn otp_consume_and_bind_phone(
        &self,
        challenge_id: &str,
        user_id: &str,
        phone: &PhoneBinding<'_>,
        record: &JournalEntry,
    ) -> Result<Option<User>, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let used = sqlx::query(
            "UPDATE otp_challenges SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(challenge_id)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        self.bind_phone_in(&mut tx, user_id, phone, now).await?;
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        self.user_required(user_id).await.map(Some)
    }

    /// Binds a mobile number verified offline by an operator, with its record and the
    /// operator's reason in the account's events.
    pub async fn bind_phone_by_operator(
        &self,
        user_id: &str,
        phone: &PhoneBinding<'_>,
        reason: &str,
        actor: &str,
        record: &JournalEntry,
    ) -> Result<User, StoreError> {
        self.user_required(user_id).await?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        self.bind_phone_in(&mut tx, user_id, phone, now).await?;
        insert_event(&mut tx, user_id, now, "phone_verified", reason, actor).await?;
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        self.user_required(user_id).await
    }

    async fn bind_phone_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
        phone: &PhoneBinding<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        ensure_identity_row(tx, user_id).await?;
        sqlx::query(
            "UPDATE identities SET phone_enc = $1, phone_index = $2, phone_masked = $3, \
             phone_verified_at = $4, phone_method = $5 WHERE user_id = $6",
        )
        .bind(phone.enc)
        .bind(phone.index)
        .bind(phone.masked)
        .bind(now)
        .bind(phone.method)
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                StoreError::Conflict("this mobile number is already verified for another account")
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Binds a verified identity to the user, with its record (and, for an operator's
    /// verification, the reason in the account's events).
    pub async fn bind_id(
        &self,
        user_id: &str,
        id: &IdBinding<'_>,
        operator: Option<(&str, &str)>,
        record: &JournalEntry,
    ) -> Result<User, StoreError> {
        self.user_required(user_id).await?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        ensure_identity_row(&mut tx, user_id).await?;
        sqlx::query(
            "UPDATE identities SET id_enc = $1, id_index = $2, id_masked = $3, id_verified_at = $4, \
             id_method = $5, minor_until = $6 WHERE user_id = $7",
        )
        .bind(id.enc)
        .bind(id.index)
        .bind(id.masked)
        .bind(now)
        .bind(id.method)
        .bind(id.minor_until)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                StoreError::Conflict("this ID number is already verified for another account")
            } else {
                StoreError::from(e)
            }
        })?;
        if let Some((reason, actor)) = operator {
            insert_event(&mut tx, user_id, now, "id_verified", reason, actor).await?;
        }
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        self.user_required(user_id).await
    }

    /// The account holding a blind index of a mobile number, if any.
    pub async fn user_by_phone_index(&self, index: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM identities WHERE phone_index = $1")
                .bind(index)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Records a consent, with its record.
    pub async fn consent_give(
        &self,
        user_id: &str,
        purpose: &str,
        text_version: &str,
        text_sha256: &str,
        record: &JournalEntry,
    ) -> Result<Consent, StoreError> {
        self.user_required(user_id).await?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO consents (user_id, purpose, text_version, text_sha256, given_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(purpose)
        .bind(text_version)
        .bind(text_sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        Ok(Consent {
            purpose: purpose.into(),
            text_version: text_version.into(),
            text_sha256: text_sha256.into(),
            given_at: now,
            withdrawn_at: None,
        })
    }

    /// Withdraws every standing consent for `purpose`; returns how many were withdrawn.
    pub async fn consent_withdraw(
        &self,
        user_id: &str,
        purpose: &str,
        record: &JournalEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE consents SET withdrawn_at = $1 WHERE user_id = $2 AND purpose = $3 \
             AND withdrawn_at IS NULL",
        )
        .bind(now_ms())
        .bind(user_id)
        .bind(purpose)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        journal_entry_insert(&mut tx, record).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Every consent the user gave, oldest first.
    pub async fn consents(&self, user_id: &str) -> Result<Vec<Consent>, StoreError> {
        let rows = sqlx::query(
            "SELECT purpose, text_version, text_sha256, given_at, withdrawn_at FROM consents \
             WHERE user_id = $1 ORDER BY seq",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Consent {
                    purpose: r.try_get("purpose")?,
                    text_version: r.try_get("text_version")?,
                    text_sha256: r.try_get("text_sha256")?,
                    given_at: r.try_get("given_at")?,
                    withdrawn_at: r.try_get("withdrawn_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The encrypted identity fields of one account.
    pub async fn identity_ciphertexts(
        &self,
        user_id: &str,
    ) -> Result<Option<IdentityCiphertexts>, StoreError> {
        let row =
            sqlx::query("SELECT user_id, phone_enc, id_enc FROM identities WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.as_ref().map(ciphertexts_from_row).transpose()?)
    }

    /// A page of accounts' encrypted fields, in user id order after `after` (for rotation).
    pub async fn identity_ciphertexts_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<IdentityCiphertexts>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, phone_enc, id_enc FROM identities WHERE user_id > $1 \
             AND (phone_enc IS NOT NULL OR id_enc IS NOT NULL) ORDER BY user_id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(ciphertexts_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Replaces an account's ciphertexts if they are still `old` (compare and set, so a
    /// concurrent verification is never overwritten); returns whether it replaced them.
    pub async fn replace_identity_ciphertexts(
        &self,
        old: &IdentityCiphertexts,
        new: &IdentityCiphertexts,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let current =
            sqlx::query("SELECT user_id, phone_enc, id_enc FROM identities WHERE user_id = $1")
                .bind(&old.user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if current
            .as_ref()
            .map(ciphertexts_from_row)
            .transpose()?
            .as_ref()
            != Some(old)
        {
            return Ok(false);
        }
        sqlx::query("UPDATE identities SET phone_enc = $1, id_enc = $2 WHERE user_id = $3")
            .bind(&new.phone_enc)
            .bind(&new.id_enc)
            .bind(&old.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Challenges still holding an encrypted number (for rotation): `(id, user_id, phone_enc)`.
    pub async fn otp_ciphertexts(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, user_id, phone_enc FROM otp_challenges ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("user_id")?,
                    r.try_get("phone_enc")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Replaces one challenge's encrypted number if it is still `old`.
    pub async fn replace_otp_ciphertext(
        &self,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE otp_challenges SET phone_enc = $1 WHERE id = $2 AND phone_enc = $3",
        )
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Carries out a data subject's deletion request: erases the encrypted identity, the
    /// challenges and the account's keys, marks the account deleted, and reports what the law
    /// requires to be kept. The record of the deletion, made by `record` from the report (so
    /// it can say what was kept), goes in the same transaction.
    pub async fn delete_account(
        &self,
        user_id: &str,
        reason: &str,
        actor: &str,
        record: impl FnOnce(&DeletionReport) -> JournalEntry,
    ) -> Result<DeletionReport, StoreError> {
        let user = self.user_required(user_id).await?;
        if user.deleted_at.is_some() {
            return Err(StoreError::Refused(format!(
                "account {user_id} was already deleted"
            )));
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let identity_erased = sqlx::query("DELETE FROM identities WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let challenges_deleted = sqlx::query("DELETE FROM otp_challenges WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let keys_revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE users SET deleted_at = $1, suspended = 1, external_ref = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let interactions_kept = self.user_total(&mut tx, user_id).await?;
        let consents_kept: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM consents WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        let report = DeletionReport {
            user_id: user_id.into(),
            at: now,
            identity_erased,
            challenges_deleted,
            keys_revoked,
            interactions_kept: u64::try_from(interactions_kept).unwrap_or(0),
            consents_kept: u64::try_from(consents_kept).unwrap_or(0),
        };
        insert_event(&mut tx, user_id, now, "deleted", reason, actor).await?;
        journal_entry_insert(&mut tx, &record(&report)).await?;
        tx.commit().await?;
        Ok(report)
    }
}

fn ciphertexts_from_row(r: &AnyRow) -> Result<IdentityCiphertexts, sqlx::Error> {
    Ok(IdentityCiphertexts {
        user_id: r.try_get("user_id")?,
        phone_enc: r.try_get("phone_enc")?,
        id_enc: r.try_get("id_enc")?,
    })
}
