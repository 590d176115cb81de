//! The verification flows over the store, the keys and the providers.
//!
//! Every attempt and result, successful or not, becomes an `identity_check` record in the
//! tamper-evident log: `{user_id, method, step, result, provider?, reason?}`, pseudonymous and
//! without any personal data.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use hegui_store::{
    Consent, DeletionReport, Factor, IdBinding, IdentityCiphertexts, OtpChallenge, OtpCounter,
    PhoneBinding, RecordQuery, Store, StoreError, User,
};
use hegui_types::{kinds, JournalEntry, JOURNAL_ENCODING_VERSION};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crypto::{CryptoError, Field, PiKeys};
use crate::providers::{AuthorityResult, IdentityAuthority, ProviderError, SmsSender};
use crate::validate::{self, FieldError};

/// The consent purpose required before an ID number is processed (PIPL Art. 29).
pub const SENSITIVE_PI: &str = "sensitive_pi";

/// Limits on one-time codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpPolicy {
    /// How long a code is accepted.
    pub ttl: Duration,
    /// Attempts per code.
    pub max_attempts: u32,
    /// Least time between two codes for one account.
    pub resend_after: Duration,
    /// Codes to one number per hour.
    pub per_phone_per_hour: u32,
    /// Codes requested from one IP address per hour.
    pub per_ip_per_hour: u32,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        OtpPolicy {
            ttl: Duration::from_secs(300),
            max_attempts: 5,
            resend_after: Duration::from_secs(60),
            per_phone_per_hour: 5,
            per_ip_per_hour: 20,
        }
    }
}

/// How the service behaves, from `[identity]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Keep the encrypted ID number (otherwise only the result, a blind index and the mask).
    pub store_id_number: bool,
    /// One-time code limits.
    pub otp: OtpPolicy,
    /// Version of the separate-consent text for sensitive PI currently shown to users.
    pub consent_version: String,
    /// The consent text itself (its SHA-256 is recorded with each consent).
    pub consent_text: String,
    /// ID checks per account per 24 hours (each costs a query to the authority).
    pub id_checks_per_day: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            store_id_number: false,
            otp: OtpPolicy::default(),
            consent_version: "1".into(),
            consent_text: DEFAULT_CONSENT_TEXT.into(),
            id_checks_per_day: 5,
        }
    }
}

/// The separate-consent text used when the operator configures none.
pub const DEFAULT_CONSENT_TEXT: &str = "为依法完成网络实名认证（《生成式人工智能服务管理暂行办法》第十二条），本服务将处理您的居民身份证号码和姓名这一敏感个人信息，仅用于向身份核验机构核验身份，核验结果以外的信息不作保存（运营者另行告知的除外），并以加密方式存储。您可以随时撤回同意，撤回不影响撤回前基于同意已进行的处理。 / To complete real-name verification as the law requires, this service processes your resident ID number and name, which are sensitive personal information, only to check them with an identity authority; they are stored encrypted, if at all. You may withdraw this consent at any time.";

/// Why a flow failed. The gateway maps each to an HTTP status; messages say what to do and
/// never contain a phone number, ID number or name.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A field broke a rule (400).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Too many requests (429).
    #[error("{what}; retry in {retry_after_s} s")]
    RateLimited {
        /// Which limit.
        what: String,
        /// Seconds until a retry can succeed.
        retry_after_s: u64,
    },
    /// No code is waiting for this account (400).
    #[error("no code is waiting for this account: request one with POST /identity/v1/phone/start")]
    CodeNotRequested,
    /// The code expired (400).
    #[error("the code has expired: request a new one with POST /identity/v1/phone/start")]
    CodeExpired,
    /// Wrong code (400).
    #[error("the code is wrong; {attempts_left} attempt(s) left for this code")]
    CodeWrong {
        /// Attempts left.
        attempts_left: u32,
    },
    /// The attempt limit was reached (429).
    #[error("too many wrong codes: this code is no longer accepted; request a new one with POST /identity/v1/phone/start")]
    TooManyAttempts,
    /// Separate consent is missing (403).
    #[error("separate consent to process sensitive personal information (version {version}) is required before the ID check: read GET /identity/v1/consent and agree with POST /identity/v1/consent")]
    ConsentRequired {
        /// The consent text version to agree to.
        version: String,
    },
    /// The authority says name and number do not belong together (422).
    #[error("the identity authority could not match this name and ID number: check both against the ID card and retry")]
    NoMatch,
    /// A provider failed; nothing was verified (503).
    #[error("verification is temporarily unavailable ({0}); nothing was verified, retry later")]
    Provider(#[from] ProviderError),
    /// A needed provider is not configured (503).
    #[error("{0} is not configured for this deployment: the operator must set it in [identity]")]
    NotConfigured(&'static str),
    /// Already bound to another account (409).
    #[error("{0}")]
    Conflict(&'static str),
    /// The account does not exist (404).
    #[error("account {0} not found")]
    UnknownUser(String),
    /// The account was deleted at its holder's request (410).
    #[error("account {0} was deleted at its holder's request")]
    Deleted(String),
    /// A consent version that is not the current text (400).
    #[error("consent version {given:?} is not the current text (version {current:?}): read GET /identity/v1/consent and agree to that version")]
    StaleConsent {
        /// What was sent.
        given: String,
        /// What is current.
        current: String,
    },
    /// The store failed (503).
    #[error("storage is unavailable: {0}")]
    Store(StoreError),
    /// Keys or ciphertexts are wrong (500).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => IdentityError::Conflict(m),
            StoreError::NotFound { id, .. } => IdentityError::UnknownUser(id),
            other => IdentityError::Store(other),
        }
    }
}

/// What `start_phone` tells the client.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodeSent {
    /// The number the code went to, masked.
    pub phone: String,
    /// Seconds the code stays valid.
    pub expires_in_s: u64,
    /// Seconds before another code can be requested.
    pub resend_after_s: u64,
}

/// Whether minors mode applies to `user` today (China time).
pub fn is_minor_today(user: &User) -> bool {
    user.is_minor_on(&hegui_pii::today_in_china().format("%Y-%m-%d").to_string())
}

/// The verification state of an account, as shown to its holder and to operators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// Pseudonymous id.
    pub user_id: String,
    /// `person` or `organisation`.
    pub kind: String,
    /// Factors verified.
    pub verified: Vec<&'static str>,
    /// Masked mobile number.
    pub phone: Option<String>,
    /// Masked ID number.
    pub id_number: Option<String>,
    /// Whether minors mode applies today.
    pub minor: bool,
    /// Whether separate consent for sensitive PI (current version) is standing.
    pub consent: bool,
}

/// The service.
pub struct IdentityService {
    store: Store,
    keys: Arc<PiKeys>,
    sms: Arc<dyn SmsSender>,
    authority: Option<Arc<dyn IdentityAuthority>>,
    settings: Settings,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An `identity_check` record: pseudonymous, no personal data.
pub fn check_record(
    user_id: &str,
    method: &str,
    step: &str,
    result: &str,
    provider: Option<&str>,
    reason: Option<&str>,
    actor: &str,
) -> JournalEntry {
    let mut body = serde_json::json!({
        "user_id": user_id,
        "method": method,
        "step": step,
        "result": result,
    });
    if let Some(p) = provider {
        body["provider"] = p.into();
    }
    if let Some(r) = reason {
        body["reason"] = r.into();
    }
    JournalEntry {
        v: JOURNAL_ENCODING_VERSION,
        kind: kinds::IDENTITY_CHECK.into(),
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: now_ms(),
        actor: actor.into(),
        body,
    }
}

/// A short, PI-free label for a provider failure (for records).
fn provider_reason(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::Timeout { .. } => "timeout",
        ProviderError::Unavailable { .. } => "unavailable",
        ProviderError::Rejected { .. } => "rejected",
        ProviderError::BadResponse { .. } => "bad_response",
        ProviderError::Config(_) => "config",
    }
}

impl IdentityService {
    /// A service over `store` with these keys and providers.
    pub fn new(
        store: Store,
        keys: Arc<PiKeys>,
        sms: Arc<dyn SmsSender>,
        authority: Option<Arc<dyn IdentityAuthority>>,
        settings: Settings,
    ) -> Self {
        IdentityService {
            store,
            keys,
            sms,
            authority,
            settings,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn live_user(&self, user_id: &str) -> Result<User, IdentityError> {
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| IdentityError::UnknownUser(user_id.into()))?;
        if user.deleted_at.is_some() {
            return Err(IdentityError::Deleted(user_id.into()));
        }
        Ok(user)
    }

    async fn record(&self, entry: JournalEntry) -> Result<(), IdentityError> {
        self.store.identity_record(&entry).await?;
        Ok(())
    }

    /// Registers an account (a person, or an organisation with its credit code) and issues
    /// its first API key; returns the account and the key's secret (shown once).
    pub async fn register(
        &self,
        external_ref: Option<&str>,
        org_code: Option<&str>,
        actor: &str,
    ) -> Result<(User, String), IdentityError> {
        let org = org_code.map(validate::org_code).transpose()?;
        if let Some(r) = external_ref {
            if r.chars().count() > 128 {
                return Err(FieldError::new(
                    "external_ref",
                    "external_ref.length",
                    "the reference is longer than 128 characters",
                )
                .into());
            }
            if hegui_pii::detect(r).iter().any(|m| {
                matches!(
                    m.kind,
                    hegui_pii::PiiKind::Phone
                        | hegui_pii::PiiKind::IdCard
                        | hegui_pii::PiiKind::Email
                )
            }) {
                return Err(FieldError::new(
                    "external_ref",
                    "external_ref.personal_information",
                    "the reference looks like personal information (a phone number, ID number or e-mail address): use your own opaque account id instead",
                )
                .into());
            }
        }
        let user = self
            .store
            .create_account(external_ref, org.as_deref(), actor)
            .await?;
        let (_, secret) = self.store.create_key(&user.id, actor).await?;
        Ok((user, secret))
    }

    /// Sends a one-time code to `phone_input` for the account, within the limits.
    pub async fn start_phone(
        &self,
        user_id: &str,
        phone_input: &str,
        client_ip: &str,
    ) -> Result<CodeSent, IdentityError> {
        self.live_user(user_id).await?;
        let phone = validate::phone(phone_input)?;
        let phone_index = self.keys.blind_index(Field::Phone, &phone);
        let ip_index = self.keys.blind_index(Field::Ip, client_ip);
        let now = now_ms();
        let policy = &self.settings.otp;
        let limited = |what: String, retry_after_ms: i64| IdentityError::RateLimited {
            what,
            retry_after_s: u64::try_from(retry_after_ms.max(0) / 1000 + 1).unwrap_or(1),
        };
        let resend_ms = i64::try_from(policy.resend_after.as_millis()).unwrap_or(i64::MAX);
        let mut refusal = None;
        if let Some(last) = self.store.otp_latest(user_id).await? {
            if now - last.created_at < resend_ms {
                refusal = Some(limited(
                    "a code was sent moments ago".into(),
                    resend_ms - (now - last.created_at),
                ));
            }
        }
        let hour_ago = now - 3_600_000;
        if refusal.is_none()
            && self
                .store
                .otp_count_since(OtpCounter::Phone, &phone_index, hour_ago)
                .await?
                >= i64::from(policy.per_phone_per_hour)
        {
            refusal = Some(limited(
                format!(
                    "at most {} codes per hour go to one number",
                    policy.per_phone_per_hour
                ),
                3_600_000,
            ));
        }
        if refusal.is_none()
            && self
                .store
                .otp_count_since(OtpCounter::Ip, &ip_index, hour_ago)
                .await?
                >= i64::from(policy.per_ip_per_hour)
        {
            refusal = Some(limited(
                format!(
                    "at most {} codes per hour are sent for one network address",
                    policy.per_ip_per_hour
                ),
                3_600_000,
            ));
        }
        if let Some(e) = refusal {
            self.record(check_record(
                user_id,
                "phone",
                "send",
                "rate_limited",
                None,
                None,
                user_id,
            ))
            .await?;
            return Err(e);
        }
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let id = format!("otp_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = self.sms.send_code(&phone, &code).await {
            tracing::warn!(user_id, provider = self.sms.name(), error = %e, "SMS sending failed");
            self.record(check_record(
                user_id,
                "phone",
                "send",
                "provider_error",
                Some(self.sms.name()),
                Some(provider_reason(&e)),
                user_id,
            ))
            .await?;
            return Err(e.into());
        }
        let challenge = OtpChallenge {
            code_hash: self.keys.code_hash(&id, &code),
            phone_enc: self.keys.encrypt(Field::Phone, user_id, &phone),
            id,
            user_id: user_id.into(),
            phone_index,
            ip_index,
            created_at: now,
            expires_at: now + i64::try_from(policy.ttl.as_millis()).unwrap_or(i64::MAX),
            attempts: 0,
            consumed_at: None,
        };
        let sent = check_record(
            user_id,
            "phone",
            "send",
            "sent",
            Some(self.sms.name()),
            None,
            user_id,
        );
        self.store.otp_create(&challenge, &sent).await?;
        Ok(CodeSent {
            phone: hegui_pii::mask(hegui_pii::PiiKind::Phone, &phone),
            expires_in_s: policy.ttl.as_secs(),
            resend_after_s: policy.resend_after.as_secs(),
        })
    }

    /// Checks a code; on success the number is verified for the account.
    pub async fn confirm_phone(
        &self,
        user_id: &str,
        code_input: &str,
    ) -> Result<User, IdentityError> {
        self.live_user(user_id).await?;
        let code = validate::code(code_input)?;
        let Some(c) = self.store.otp_latest(user_id).await? else {
            return Err(IdentityError::CodeNotRequested);
        };
        if c.consumed_at.is_some() {
            return Err(IdentityError::CodeNotRequested);
        }
        let fail =
            |result: &str| check_record(user_id, "phone", "confirm", result, None, None, user_id);
        if now_ms() > c.expires_at {
            self.record(fail("expired")).await?;
            return Err(IdentityError::CodeExpired);
        }
        let max = self.settings.otp.max_attempts;
        let attempts = self.store.otp_count_attempt(&c.id).await?;
        if attempts > i64::from(max) {
            self.record(fail("attempts_exhausted")).await?;
            return Err(IdentityError::TooManyAttempts);
        }
        if !self.keys.code_matches(&c.id, &code, &c.code_hash) {
            self.record(fail("wrong_code")).await?;
            let left = u32::try_from(i64::from(max) - attempts).unwrap_or(0);
            return Err(if left == 0 {
                IdentityError::TooManyAttempts
            } else {
                IdentityError::CodeWrong {
                    attempts_left: left,
                }
            });
        }
        let phone = self.keys.decrypt(Field::Phone, user_id, &c.phone_enc)?;
        let enc = self.keys.encrypt(Field::Phone, user_id, &phone);
        let masked = hegui_pii::mask(hegui_pii::PiiKind::Phone, &phone);
        let binding = PhoneBinding {
            enc: &enc,
            index: &c.phone_index,
            masked: &masked,
            method: "otp",
        };
        let ok = check_record(user_id, "phone", "confirm", "verified", None, None, user_id);
        match self
            .store
            .otp_consume_and_bind_phone(&c.id, user_id, &binding, &ok)
            .await
        {
            Ok(Some(user)) => Ok(user),
            // Another request used this code a moment ago.
            Ok(None) => Err(IdentityError::CodeNotRequested),
            Err(StoreError::Conflict(m)) => {
                self.record(fail("conflict")).await?;
                Err(IdentityError::Conflict(m))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The consent text to show and its version.
    pub fn consent_text(&self) -> (&str, &str) {
        (&self.settings.consent_version, &self.settings.consent_text)
    }

    /// Records separate consent to the current text.
    pub async fn give_consent(
        &self,
        user_id: &str,
        version: &str,
    ) -> Result<Consent, IdentityError> {
        self.live_user(user_id).await?;
        if version != self.settings.consent_version {
            return Err(IdentityError::StaleConsent {
                given: version.into(),
                current: self.settings.consent_version.clone(),
            });
        }
        let sha = hex::encode(Sha256::digest(self.settings.consent_text.as_bytes()));
        let rec = check_record(
            user_id,
            "consent",
            "give",
            "given",
            None,
            Some(version),
            user_id,
        );
        Ok(self
            .store
            .consent_give(user_id, SENSITIVE_PI, version, &sha, &rec)
            .await?)
    }

    /// Withdraws separate consent; returns how many standing consents were withdrawn.
    pub async fn withdraw_consent(&self, user_id: &str) -> Result<u64, IdentityError> {
        self.live_user(user_id).await?;
        let rec = check_record(
            user_id,
            "consent",
            "withdraw",
            "withdrawn",
            None,
            None,
            user_id,
        );
        Ok(self
            .store
            .consent_withdraw(user_id, SENSITIVE_PI, &rec)
            .await?)
    }

    async fn has_consent(&self, user_id: &str) -> Result<bool, IdentityError> {
        Ok(self.store.consents(user_id).await?.iter().any(|c| {
            c.purpose == SENSITIVE_PI
                && c.withdrawn_at.is_none()
                && c.text_version == self.settings.consent_version
        }))
    }

    fn id_binding_parts(
        &self,
        user_id: &str,
        card: &hegui_pii::IdCard,
        today: NaiveDate,
    ) -> (Option<String>, String, String, Option<String>) {
        let number = card.number();
        let enc = self
            .settings
            .store_id_number
            .then(|| self.keys.encrypt(Field::IdNumber, user_id, number));
        let index = self.keys.blind_index(Field::IdNumber, number);
        let masked = hegui_pii::mask(hegui_pii::PiiKind::IdCard, number);
        let adult = validate::adult_on(card.birth_date());
        let minor_until = (today < adult).then(|| adult.format("%Y-%m-%d").to_string());
        (enc, index, masked, minor_until)
    }

    /// Checks name and ID number with the identity authority; on a match the identity factor
    /// is verified (and minors mode set from the birth date).
    pub async fn verify_id(
        &self,
        user_id: &str,
        name_input: &str,
        id_input: &str,
    ) -> Result<User, IdentityError> {
        self.live_user(user_id).await?;
        if !self.has_consent(user_id).await? {
            return Err(IdentityError::ConsentRequired {
                version: self.settings.consent_version.clone(),
            });
        }
        let today = hegui_pii::today_in_china();
        let name = validate::name(name_input)?;
        let card = validate::id_number(id_input, today)?;
        let authority = self.authority.as_ref().ok_or(IdentityError::NotConfigured(
            "an identity authority ([identity.authority])",
        ))?;
        let day_ago = now_ms() - 86_400_000;
        let recent = self
            .store
            .user_events(user_id)
            .await?
            .iter()
            .filter(|e| e.kind == "id_check" && e.at >= day_ago)
            .count();
        if recent >= usize::try_from(self.settings.id_checks_per_day).unwrap_or(usize::MAX) {
            self.record(check_record(
                user_id,
                "id",
                "check",
                "rate_limited",
                None,
                None,
                user_id,
            ))
            .await?;
            return Err(IdentityError::RateLimited {
                what: format!(
                    "at most {} ID checks per account per day",
                    self.settings.id_checks_per_day
                ),
                retry_after_s: 86_400,
            });
        }
        let outcome = authority.check(&name, card.number()).await;
        let provider = authority.name().to_string();
        let result = match &outcome {
            Ok(AuthorityResult::Match) => "match",
            Ok(AuthorityResult::NoMatch) => "no_match",
            Err(_) => "provider_error",
        };
        self.store
            .note_user_event(user_id, "id_check", result, user_id)
            .await?;
        match outcome {
            Err(e) => {
                tracing::warn!(user_id, provider = %provider, error = %e, "identity authority failed");
                self.record(check_record(
                    user_id,
                    "id",
                    "check",
                    "provider_error",
                    Some(&provider),
                    Some(provider_reason(&e)),
                    user_id,
                ))
                .await?;
                Err(e.into())
            }
            Ok(AuthorityResult::NoMatch) => {
                self.record(check_record(
                    user_id,
                    "id",
                    "check",
                    "no_match",
                    Some(&provider),
                    None,
                    user_id,
                ))
                .await?;
                Err(IdentityError::NoMatch)
            }
            Ok(AuthorityResult::Match) => {
                let (enc, index, masked, minor_until) =
                    self.id_binding_parts(user_id, &card, today);
                let binding = IdBinding {
                    enc: enc.as_deref(),
                    index: &index,
                    masked: &masked,
                    method: "authority",
                    minor_until: minor_until.as_deref(),
                };
                let reason = minor_until.as_ref().map(|_| "minor");
                let rec = check_record(
                    user_id,
                    "id",
                    "check",
                    "match",
                    Some(&provider),
                    reason,
                    user_id,
                );
                match self.store.bind_id(user_id, &binding, None, &rec).await {
                    Err(StoreError::Conflict(m)) => {
                        self.record(check_record(
                            user_id,
                            "id",
                            "check",
                            "conflict",
                            Some(&provider),
                            None,
                            user_id,
                        ))
                        .await?;
                        Err(IdentityError::Conflict(m))
                    }
                    other => Ok(other?),
                }
            }
        }
    }

    /// An operator records a phone verification done offline.
    pub async fn operator_verify_phone(
        &self,
        user_id: &str,
        phone_input: &str,
        reason: &str,
        actor: &str,
    ) -> Result<User, IdentityError> {
        self.live_user(user_id).await?;
        let phone = validate::phone(phone_input)?;
        let enc = self.keys.encrypt(Field::Phone, user_id, &phone);
        let index = self.keys.blind_index(Field::Phone, &phone);
        let masked = hegui_pii::mask(hegui_pii::PiiKind::Phone, &phone);
        let rec = check_record(user_id, "phone", "operator", "verified", None, None, actor);
        let binding = PhoneBinding {
            enc: &enc,
            index: &index,
            masked: &masked,
            method: "operator",
        };
        Ok(self
            .store
            .bind_phone_by_operator(user_id, &binding, reason, actor, &rec)
            .await?)
    }

    /// An operator records an identity verification done offline (the documents were seen).
    pub async fn operator_verify_id(
        &self,
        user_id: &str,
        id_input: &str,
        reason: &str,
        actor: &str,
    ) -> Result<User, IdentityError> {
        self.live_user(user_id).await?;
        let today = hegui_pii::today_in_china();
        let card = validate::id_number(id_input, today)?;
        let (enc, index, masked, minor_until) = self.id_binding_parts(user_id, &card, today);
        let binding = IdBinding {
            enc: enc.as_deref(),
            index: &index,
            masked: &masked,
            method: "operator",
            minor_until: minor_until.as_deref(),
        };
        let rec = check_record(
            user_id,
            "id",
            "operator",
            "verified",
            None,
            minor_until.as_ref().map(|_| "minor"),
            actor,
        );
        Ok(self
            .store
            .bind_id(user_id, &binding, Some((reason, actor)), &rec)
            .await?)
    }

    /// The account's verification state.
    pub async fn status(&self, user_id: &str) -> Result<Status, IdentityError> {
        let user = self.live_user(user_id).await?;
        Ok(Status {
            user_id: user.id.clone(),
            kind: user.kind.clone(),
            verified: [Factor::Phone, Factor::Id]
                .into_iter()
                .filter(|f| user.has(*f))
                .map(Factor::as_str)
                .collect(),
            phone: user.phone_masked.clone(),
            id_number: user.id_masked.clone(),
            minor: is_minor_today(&user),
            consent: self.has_consent(user_id).await?,
        })
    }

    /// Everything held about the account, for its holder (PIPL Art. 45): the account, the
    /// decrypted phone and ID numbers, consents, account events, keys and interactions.
    pub async fn export(&self, user_id: &str) -> Result<serde_json::Value, IdentityError> {
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| IdentityError::UnknownUser(user_id.into()))?;
        let (phone, id_number) = match self.store.identity_ciphertexts(user_id).await? {
            Some(c) => (
                c.phone_enc
                    .map(|e| self.keys.decrypt(Field::Phone, user_id, &e))
                    .transpose()?,
                c.id_enc
                    .map(|e| self.keys.decrypt(Field::IdNumber, user_id, &e))
                    .transpose()?,
            ),
            None => (None, None),
        };
        let consents: Vec<_> = self
            .store
            .consents(user_id)
            .await?
            .into_iter()
            .map(|c| {
                serde_json::json!({"purpose": c.purpose, "text_version": c.text_version,
                    "text_sha256": c.text_sha256, "given_at_ms": c.given_at, "withdrawn_at_ms": c.withdrawn_at})
            })
            .collect();
        let events: Vec<_> = self
            .store
            .user_events(user_id)
            .await?
            .into_iter()
            .map(|e| serde_json::json!({"at_ms": e.at, "event": e.kind, "reason": e.reason, "actor": e.actor}))
            .collect();
        let keys: Vec<_> = self
            .store
            .list_keys(Some(user_id))
            .await?
            .into_iter()
            .map(|k| serde_json::json!({"key_id": k.id, "prefix": k.prefix, "created_at_ms": k.created_at, "revoked_at_ms": k.revoked_at}))
            .collect();
        let interactions: Vec<_> = self
            .store
            .list_records(&RecordQuery {
                user_id: Some(user_id.into()),
                limit: Some(10_000),
                ..RecordQuery::default()
            })
            .await?
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "content_erased": r.record.is_none(),
                    "record": r.record,
                })
            })
            .collect();
        Ok(serde_json::json!({
            "format": "hegui-subject-export/1",
            "exported_at_ms": now_ms(),
            "account": {
                "user_id": user.id, "kind": user.kind, "org_code": user.org_code,
                "created_at_ms": user.created_at, "suspended": user.suspended,
                "deleted_at_ms": user.deleted_at,
                "phone_verified_at_ms": user.phone_verified_at, "id_verified_at_ms": user.id_verified_at,
                "minor_until": user.minor_until,
            },
            "personal_information": {
                "phone": phone,
                "id_number": id_number,
                "id_number_stored": id_number.is_some(),
            },
            "consents": consents,
            "account_events": events,
            "api_keys": keys,
            "interactions": interactions,
        }))
    }

    /// Carries out the holder's deletion request. Identity data, codes and keys go at once;
    /// interaction records stay until their legal retention ends (Cybersecurity Law: network
    /// logs ≥ 6 months), when the retention purge erases their content; consent records stay as
    /// evidence of lawful processing. The report says what was kept and why.
    pub async fn delete(
        &self,
        user_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<DeletionReport, IdentityError> {
        self.live_user(user_id).await?;
        let make = |r: &DeletionReport| {
            let mut rec = check_record(user_id, "account", "delete", "deleted", None, None, actor);
            rec.body["erased"] = serde_json::json!({
                "identity": r.identity_erased,
                "verification_codes": r.challenges_deleted,
                "api_keys_revoked": r.keys_revoked,
            });
            rec.body["kept"] = serde_json::json!([
                {"what": "interaction_records", "count": r.interactions_kept,
                 "why": "Cybersecurity Law: network logs kept >= 6 months; content erased by the retention purge"},
                {"what": "consent_records", "count": r.consents_kept,
                 "why": "PIPL: evidence of lawful processing; no personal data"},
            ]);
            rec
        };
        Ok(self
            .store
            .delete_account(user_id, reason, actor, make)
            .await?)
    }
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RotationReport {
    /// The new active key id.
    pub new_key: String,
    /// Account identity rows re-encrypted.
    pub identities: u64,
    /// Pending code challenges re-encrypted.
    pub challenges: u64,
    /// Values changed concurrently and left for the next run (they were written under the
    /// new key already).
    pub skipped: u64,
}

/// Re-encrypts every stored phone and ID number under `keys`' active key (run after
/// [`PiKeys::add_key`] has been saved). Safe to run again: values already under the active key
/// are left alone.
pub async fn reencrypt_all(store: &Store, keys: &PiKeys) -> Result<RotationReport, IdentityError> {
    let mut report = RotationReport {
        new_key: keys.active_id().to_string(),
        ..RotationReport::default()
    };
    let mut after = String::new();
    loop {
        let page = store.identity_ciphertexts_page(&after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.user_id.clone();
        for old in page {
            let new = IdentityCiphertexts {
                user_id: old.user_id.clone(),
                phone_enc: old
                    .phone_enc
                    .as_deref()
                    .map(|e| keys.reencrypt(Field::Phone, &old.user_id, e))
                    .transpose()?,
                id_enc: old
                    .id_enc
                    .as_deref()
                    .map(|e| keys.reencrypt(Field::IdNumber, &old.user_id, e))
                    .transpose()?,
            };
            if new == old {
                continue;
            }
            if store.replace_identity_ciphertexts(&old, &new).await? {
                report.identities += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    for (id, user_id, enc) in store.otp_ciphertexts().await? {
        let new = keys.reencrypt(Field::Phone, &user_id, &enc)?;
        if new != enc {
            if store.replace_otp_ciphertext(&id, &enc, &new).await? {
                report.challenges += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    Ok(report)
}

/// Key ids still used by stored values (to know when an old key may be retired).
pub async fn keys_in_use(store: &Store) -> Result<Vec<String>, IdentityError> {
    let mut ids = std::collections::BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = store.identity_ciphertexts_page(&after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.user_id.clone();
        for c in &page {
            for e in [&c.phone_enc, &c.id_enc].into_iter().flatten() {
                if let Some(id) = PiKeys::key_id_of(e) {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    for (_, _, e) in store.otp_ciphertexts().await? {
        if let Some(id) = PiKeys::key_id_of(&e) {
            ids.insert(id.to_string());
        }
    }
    Ok(ids.into_iter().collect())
}
