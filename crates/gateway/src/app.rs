//! The composition root: configuration in, a running request path out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hegui_config::{Config, LabelPosition};
use hegui_guard::GuardStage;
use hegui_label::{Gb45438TextLabeler, Position};
use hegui_ledger::Signer;
use hegui_policy::{
    ClassifierLoadError, ClassifierStage, Lexicon, LexiconError, LexiconReviewer, ReviewEngine,
    Reviewer, DEMO_LEXICON,
};
use hegui_store::{Backend, RecordWriter, Sequencer, SequencerConfig, Store, StoreError};
use hegui_types::{kinds, JournalEntry};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::identity::StoreGate;
use crate::upstream::{OpenAiClient, UpstreamError};
use crate::{Gateway, Metrics, ReviewState, Settings};

/// Why the gateway could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lexicon is invalid.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// The classifier model could not be loaded.
    #[error(transparent)]
    Classifier(#[from] ClassifierLoadError),
    /// A guard model is misconfigured.
    #[error(transparent)]
    Guard(#[from] hegui_guard::ConfigError),
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The personal-information keys could not be loaded or created.
    #[error("{0}")]
    PiKeys(String),
    /// A verification provider is misconfigured.
    #[error("identity provider: {0}")]
    Provider(#[from] hegui_identity::providers::ProviderError),
    /// A media labeling key could not be loaded or created.
    #[error("{what} {path}: {message}")]
    MediaKey {
        /// Which key.
        what: &'static str,
        /// Where it was looked for.
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The media labels are misconfigured.
    #[error("media.explicit_text: {0}")]
    Media(String),
    /// The ledger signing key could not be loaded or created.
    #[error("ledger signing key {path}: {message}")]
    SigningKey {
        /// Where it was looked for.
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The thread building the review engine ended without a result (it panicked).
    #[error("building the review engine failed: {0}")]
    ReviewBuild(String),
}

/// A built gateway and its background tasks.
pub struct Built {
    /// The request path.
    pub gateway: Arc<Gateway>,
    /// The record writer task; it ends once every gateway handle is dropped.
    pub writer_task: JoinHandle<()>,
    /// The sequencer (integrates records into the Merkle log, signs checkpoints).
    pub sequencer_task: JoinHandle<()>,
    /// Set to `true` to stop the sequencer (after the writer has finished).
    pub stop_sequencer: watch::Sender<bool>,
}

impl Built {
    /// Orderly stop: every queued record is written, integrated and checkpointed.
    pub async fn shutdown(self) {
        let Built {
            gateway,
            writer_task,
            sequencer_task,
            stop_sequencer,
        } = self;
        drop(gateway);
        let _ = writer_task.await;
        let _ = stop_sequencer.send(true);
        let _ = sequencer_task.await;
    }
}

/// Loads the checkpoint signing key: `HEGUI_LEDGER_SIGNING_KEY` (a key string) if set, else
/// the key file. The file is created (mode 0600) only for a log that has no signed checkpoint
/// yet: once checkpoints exist, a missing key file means a restored backup, a wrong path or a
/// lost key, and a fresh key would sign checkpoints no verifier trusts, for good (they stay in
/// the log). The key never goes into the database.
pub async fn load_signer(store: &Store, path: &Path, origin: &str) -> Result<Signer, BuildError> {
    let err = |message: String| BuildError::SigningKey {
        path: path.display().to_string(),
        message,
    };
    if let Ok(k) = std::env::var("HEGUI_LEDGER_SIGNING_KEY") {
        return Signer::from_key_string(k.trim()).map_err(|e| {
            err(format!(
                "HEGUI_LEDGER_SIGNING_KEY is not a signer key string: {e}"
            ))
        });
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Signer::from_key_string(text.trim()).map_err(|e| {
            err(format!(
                "not a signer key string ({e}); create one with `hegui ledger keygen`"
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(c) = store.latest_checkpoint().await? {
                return Err(err(format!(
                    "no such file, but the log already has signed checkpoints (the newest for \
                     {} leaves): restore the key that signed them from your backup, or point \
                     ledger.signing_key_file (or HEGUI_LEDGER_SIGNING_KEY) at it; a new key \
                     would sign checkpoints that no verifier of this log trusts",
                    c.size
                )));
            }
            let signer = Signer::generate(origin).map_err(|e| err(e.to_string()))?;
            write_private(path, &signer.key_string())
                .map_err(|e| err(format!("cannot create it: {e}")))?;
            tracing::warn!(path = %path.display(), "created a new ledger signing key; back it up and keep it out of the database");
            Ok(signer)
        }
        Err(e) => Err(err(format!("cannot read it: {e}"))),
    }
}

/// Loads the key that signs `ReservedCode1` of media labels: `HEGUI_LABEL_SIGNING_KEY` (the
/// key file's text) if set, else the key file (`LABELS.md` format, the one `hegui label
/// keygen` writes), created (mode 0600) on first start. Never in the database.
pub fn load_label_key(path: &Path) -> Result<hegui_label::LabelSigningKey, BuildError> {
    use hegui_label::LabelSigningKey;
    let err = |message: String| BuildError::MediaKey {
        what: "label signing key",
        path: path.display().to_string(),
        message,
    };
    if let Ok(text) = std::env::var("HEGUI_LABEL_SIGNING_KEY") {
        return LabelSigningKey::from_file_text("HEGUI_LABEL_SIGNING_KEY", &text)
            .map_err(|e| err(e.to_string()));
    }
    match std::fs::read_to_string(path) {
        Ok(text) => LabelSigningKey::from_file_text(&path.display().to_string(), &text)
            .map_err(|e| err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = LabelSigningKey::generate();
            write_private(path, key.to_file_text().trim_end())
                .map_err(|e| err(format!("cannot create it: {e}")))?;
            tracing::warn!(path = %path.display(), key_id = %key.key_id(), "created a new label signing key; back it up and publish its public key (`hegui label` verifies with it)");
            Ok(key)
        }
        Err(e) => Err(err(format!("cannot read it: {e}"))),
    }
}

const WATERMARK_KEY_HEADER: &str = "hegui-watermark-key/1";

/// Loads the watermark key: `HEGUI_WATERMARK_KEY` (the secret) if set, else the key file,
/// created (mode 0600, 32 random bytes as hex under a `hegui-watermark-key/1` line) on first
/// start. The key is SHA-256 of the secret, which for a file is its whole content
/// ([`hegui_watermark::WatermarkKey::from_secret`]), so `hegui label inspect
/// --watermark-key-file` with the same file finds the gateway's watermarks.
pub fn load_watermark_key(path: &Path) -> Result<hegui_watermark::WatermarkKey, BuildError> {
    use hegui_watermark::WatermarkKey;
    let err = |message: String| BuildError::MediaKey {
        what: "watermark key",
        path: path.display().to_string(),
        message,
    };
    let check = |secret: &[u8], source: &str| {
        if secret.len() < 16 {
            Err(err(format!(
                "{source} must hold at least 16 bytes of secret"
            )))
        } else {
            Ok(WatermarkKey::from_secret(secret))
        }
    };
    if let Ok(secret) = std::env::var("HEGUI_WATERMARK_KEY") {
        return check(secret.as_bytes(), "HEGUI_WATERMARK_KEY");
    }
    match std::fs::read(path) {
        Ok(secret) => check(&secret, "the file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            write_private(
                path,
                &format!("{WATERMARK_KEY_HEADER}\n{}", hex::encode(secret)),
            )
            .map_err(|e| err(format!("cannot create it: {e}")))?;
            tracing::warn!(path = %path.display(), "created a new watermark key; back it up: without it the watermark cannot be detected");
            let written = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
            check(&written, "the file")
        }
        Err(e) => Err(err(format!("cannot read it: {e}"))),
    }
}

/// The media labeling stage as configured (keys loaded or created only when media is on).
pub fn media_labels(cfg: &Config) -> Result<crate::MediaLabels, BuildError> {
    let m = &cfg.media;
    let signing = if m.images || m.audio {
        load_label_key(&m.label_signing_key_file)?
    } else {
        hegui_label::LabelSigningKey::generate()
    };
    let watermark = if m.images && m.watermark {
        Some(load_watermark_key(&m.watermark_key_file)?)
    } else {
        None
    };
    crate::MediaLabels::new(m, watermark, signing).map_err(BuildError::Media)
}

/// Writes a secret file readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, format!("{text}\n").as_bytes())?;
    f.sync_all()
}

/// Records the policy in force when it differs from the last recorded one, so every decision's
/// policy version can be traced to the lexicons, settings and model mapping behind it.
pub async fn record_policy(
    store: &Store,
    cfg: &Config,
    engine: &ReviewEngine,
    actor: &str,
) -> Result<(), StoreError> {
    let reviewer = engine.lexicon();
    let body = serde_json::json!({
        "policy_version": engine.version(),
        "lexicons": reviewer.lexicon_versions().iter().map(|(n, v)| serde_json::json!({"name": n, "version": v})).collect::<Vec<_>>(),
        "review": {
            "input": cfg.review.input,
            "output": cfg.review.output,
            "on_block": format!("{:?}", cfg.review.on_block),
            "safe_answer": cfg.review.safe_answer,
            "pii": cfg.review.pii,
            "policy_fingerprint": cfg.review.policy.fingerprint(),
            "classifier": engine.classifier_name(),
            "guards": cfg.review.guards.iter().map(|g| serde_json::to_value(redacted(g)).unwrap_or_default()).collect::<Vec<_>>(),
            "escalation": {
                "flagged_in_a_row": cfg.review.escalation.flagged_in_a_row,
                "flagged_per_day": cfg.review.escalation.flagged_per_day,
            },
        },
        "models": cfg.models.iter().map(|m| serde_json::json!({"name": m.name, "upstream": m.upstream})).collect::<Vec<_>>(),
        "label": {
            "content_producer": cfg.label.content_producer,
            "explicit_text": cfg.label.explicit_text,
            "explicit_position": format!("{:?}", cfg.label.explicit_position),
        },
        "media": {
            "images": cfg.media.images,
            "audio": cfg.media.audio,
            "explicit_text": cfg.media.explicit_text,
            "image_corner": format!("{:?}", cfg.media.image_corner),
            "watermark": cfg.media.watermark,
            "audio_cue": format!("{:?}", cfg.media.audio_cue),
        },
    });
    let last = store.journal_of_kind(kinds::POLICY_CHANGE, 1).await?;
    let unchanged = last
        .first()
        .and_then(|r| r.record.as_deref())
        .and_then(|t| serde_json::from_str::<JournalEntry>(t).ok())
        .is_some_and(|e| e.body == body);
    if unchanged {
        return Ok(());
    }
    store
        .journal_append(&JournalEntry::new(kinds::POLICY_CHANGE, actor, body))
        .await
}

/// A guard configuration without its API key, for the record.
fn redacted(g: &hegui_guard::GuardConfig) -> hegui_guard::GuardConfig {
    let mut g = g.clone();
    if g.api_key.is_some() {
        g.api_key = Some("(redacted)".into());
    }
    g
}

/// Builds everything review needs from the configuration: lexicons, PII, classifier, policy
/// and guard models.
pub fn load_review(cfg: &Config) -> Result<(ReviewState, ReviewEngine), BuildError> {
    let lexicon = load_reviewer(
        &cfg.review.lexicons,
        cfg.review.demo_lexicon,
        &cfg.review.policy,
        cfg.review.pii,
    )?;
    let classifier = match &cfg.review.classifier {
        None => None,
        Some(c) => Some(ClassifierStage::load(
            &c.model,
            c.input,
            c.output,
            &cfg.review.policy,
        )?),
    };
    let engine = ReviewEngine::new(lexicon, classifier);
    let mut guards = Vec::new();
    for g in &cfg.review.guards {
        guards.push(Arc::new(GuardStage::from_config(g)?));
    }
    let state = ReviewState {
        reviewer: Arc::new(engine.clone()),
        policy: cfg.review.policy.clone(),
        guards,
    };
    Ok((state, engine))
}

/// Rebuilds review from `cfg` and swaps it in atomically: requests in flight finish under the
/// policy they started with. On error the policy in force stays. Records the change in the
/// tamper-evident log. Returns the new policy version.
///
/// The build (reading lexicons, building the automaton: seconds for a lexicon of 350,000
/// terms) runs on a blocking thread, so the runtime's workers keep serving requests meanwhile.
pub async fn reload_review(gw: &Gateway, cfg: &Config, actor: &str) -> Result<String, BuildError> {
    let _one_at_a_time = gw.reloading.lock().await;
    let owned = cfg.clone();
    let (state, engine) = tokio::task::spawn_blocking(move || load_review(&owned))
        .await
        .map_err(|e| BuildError::ReviewBuild(e.to_string()))??;
    record_policy(&gw.store, cfg, &engine, actor).await?;
    let version = engine.version().to_string();
    gw.review.store(Arc::new(state));
    Ok(version)
}

/// Loads the lexicons named by the configuration into a reviewer.
pub fn load_reviewer(
    lexicons: &[PathBuf],
    demo: bool,
    policy: &hegui_policy::ReviewPolicy,
    pii: bool,
) -> Result<LexiconReviewer, LexiconError> {
    let mut all = Vec::new();
    if demo {
        all.push(Lexicon::parse("(built-in demo lexicon)", DEMO_LEXICON)?);
    }
    for p in lexicons {
        all.push(Lexicon::load(p)?);
    }
    LexiconReviewer::build(all, policy, pii)
}

/// Loads the PI keys (`HEGUI_PI_KEYS`, else the key file), creating the file on first start
/// outside production.
pub fn load_pi_keys(cfg: &Config) -> Result<hegui_identity::PiKeys, BuildError> {
    let path = &cfg.identity.pi_key_file;
    match hegui_identity::PiKeys::from_env_or_file(Some(path)) {
        Ok(Some(k)) => Ok(k),
        Ok(None) if cfg.identity.pi_key_generate => {
            let keys = hegui_identity::PiKeys::generate();
            keys.save(path).map_err(|e| BuildError::PiKeys(e.to_string()))?;
            tracing::warn!(path = %path.display(), "created a new PI key file; back it up apart from the database: without it encrypted phone and ID numbers cannot be read");
            Ok(keys)
        }
        Ok(None) => Err(BuildError::PiKeys(format!(
            "no PI key file at {} and no {} in the environment: in production create one with `hegui keys pi-init --file {}` and keep it apart from the database",
            path.display(),
            hegui_identity::PI_KEYS_ENV,
            path.display()
        ))),
        Err(e) => Err(BuildError::PiKeys(e.to_string())),
    }
}

/// The console's inspection export: the period's bundle against the newest signed checkpoint
/// (the sequencer signs one every `ledger.checkpoint_interval`; records younger than that are
/// left for the next export, which the bundle's manifest makes visible by its tree size).
pub fn inspection_exporter(
    store: Store,
    key: hegui_ledger::Verifier,
    checkpoint_now: Arc<Notify>,
) -> hegui_console::Exporter {
    Arc::new(move |from_ms, to_ms| {
        let store = store.clone();
        let key = key.clone();
        let checkpoint_now = checkpoint_now.clone();
        Box::pin(async move {
            // Ask the sequencer for a checkpoint now and wait (at most 15 s) until every record
            // of the period is under the newest one; past that, export what is covered (the
            // manifest's tree size shows where the bundle stops).
            checkpoint_now.notify_one();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while std::time::Instant::now() < deadline {
                let size = store
                    .latest_checkpoint()
                    .await
                    .map_err(|e| e.to_string())?
                    .map_or(0, |c| c.size);
                let pending = store
                    .journal_uncovered(from_ms, to_ms, size)
                    .await
                    .map_err(|e| e.to_string())?;
                if size > 0 && pending == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let c = crate::inspection::collect(&store, &key, from_ms, to_ms)
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            c.builder.write_to(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        })
    })
}

/// The public complaint channel and the staff console as configured.
pub fn console(
    cfg: &Config,
    store: Store,
    keys: Arc<hegui_identity::PiKeys>,
    ledger_key: hegui_ledger::Verifier,
    exporter: Option<hegui_console::Exporter>,
) -> Result<hegui_console::Console, BuildError> {
    let c = &cfg.console;
    let h = |i: usize| i64::from(c.deadline_hours[i]);
    let deadlines = hegui_cases::Deadlines {
        illegal_hours: h(0),
        risk_hours: h(1),
        rights_hours: h(2),
        personal_info_hours: h(3),
        other_hours: h(4),
    };
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let staff = hegui_staff::StaffService::new(
        store.clone(),
        hegui_staff::StaffSettings {
            session_ttl_ms: ms(c.session),
            idle_ttl_ms: ms(c.idle),
            max_failures: i64::from(c.max_failed_logins),
            lockout_ms: ms(c.lockout),
        },
    )
    .map_err(|e| BuildError::PiKeys(e.to_string()))?;
    Ok(hegui_console::Console {
        cases: Arc::new(hegui_cases::CaseService::new(
            store.clone(),
            keys,
            deadlines,
        )),
        incidents: hegui_cases::IncidentService::new(store.clone()),
        staff,
        store,
        ledger_key,
        secure_cookies: c.secure_cookies,
        complaints: hegui_console::RateLimiter::new(
            c.complaints_per_ip_per_hour,
            std::time::Duration::from_secs(3600),
        ),
        logins: hegui_console::RateLimiter::new(
            c.logins_per_ip_per_15min,
            std::time::Duration::from_secs(900),
        ),
        client_ip_header: cfg.identity.client_ip_header.clone(),
        exporter,
    })
}

/// The verification flows as configured.
pub fn identity_service(
    cfg: &Config,
    store: Store,
) -> Result<hegui_identity::service::IdentityService, BuildError> {
    identity_service_with(cfg, store, Arc::new(load_pi_keys(cfg)?))
}

/// The verification flows as configured, with keys already loaded.
pub fn identity_service_with(
    cfg: &Config,
    store: Store,
    keys: Arc<hegui_identity::PiKeys>,
) -> Result<hegui_identity::service::IdentityService, BuildError> {
    let sms = hegui_identity::providers::build_sms(&cfg.identity.sms, cfg.server.production)?;
    let authority = cfg
        .identity
        .authority
        .as_ref()
        .map(hegui_identity::providers::build_authority)
        .transpose()?;
    Ok(hegui_identity::service::IdentityService::new(
        store,
        keys,
        sms,
        authority,
        hegui_identity::service::Settings {
            store_id_number: cfg.identity.store_id_number,
            otp: cfg.identity.otp.clone(),
            consent_version: cfg.identity.consent_version.clone(),
            consent_text: cfg.identity.consent_text.clone(),
            id_checks_per_day: cfg.identity.id_checks_per_day,
        },
    ))
}

/// Opens storage, loads the policy and composes the request path.
pub async fn build(cfg: &Config) -> Result<Built, BuildError> {
    let store = Store::open(&cfg.storage.database_url, cfg.storage.max_connections).await?;
    let signer = load_signer(&store, &cfg.ledger.signing_key_file, &cfg.ledger.origin).await?;
    let (review, engine) = load_review(cfg)?;
    record_policy(&store, cfg, &engine, "gateway").await?;
    let upstream = Arc::new(OpenAiClient::new(&cfg.upstream)?);
    let pi_keys = Arc::new(load_pi_keys(cfg)?);
    let identity_api = Arc::new(crate::IdentityApi::new(
        Arc::new(identity_service_with(cfg, store.clone(), pi_keys.clone())?),
        cfg.identity.open_registration,
        cfg.identity.register_per_ip_per_hour,
        cfg.identity.client_ip_header.clone(),
    ));
    let position = match cfg.label.explicit_position {
        LabelPosition::Start => Position::Start,
        LabelPosition::End => Position::End,
        LabelPosition::None => Position::None,
    };
    let labeler = Arc::new(Gb45438TextLabeler::new(
        cfg.label.content_producer.clone(),
        &cfg.label.explicit_text,
        position,
    ));
    let media = Arc::new(media_labels(cfg)?);
    let wake = Arc::new(Notify::new());
    let (writer, writer_task) = match store.backend() {
        // SQLite has one writer: the record writer integrates leaves itself, in the same
        // transaction; the sequencer task signs checkpoints and picks up stragglers.
        Backend::Sqlite => RecordWriter::spawn_integrating(store.clone()),
        Backend::Postgres => RecordWriter::spawn_with_wake(store.clone(), Some(wake.clone())),
    };
    let (stop_sequencer, stopped) = watch::channel(false);
    let ledger_key = signer.verifier();
    let sequencer = Sequencer::new(
        store.clone(),
        Some(signer),
        SequencerConfig {
            origin: cfg.ledger.origin.clone(),
            checkpoint_every: cfg.ledger.checkpoint_interval,
            ..SequencerConfig::default()
        },
    );
    let console = if cfg.console.enabled {
        Some(Arc::new(console(
            cfg,
            store.clone(),
            pi_keys,
            ledger_key.clone(),
            Some(inspection_exporter(
                store.clone(),
                ledger_key.clone(),
                sequencer.on_demand(),
            )),
        )?))
    } else {
        None
    };
    let sequencer_task = tokio::spawn(sequencer.run(wake, stopped));
    let gateway = Arc::new(Gateway {
        identity: Arc::new(StoreGate::new(
            store.clone(),
            cfg.identity.level,
            cfg.identity.verify_url.clone(),
            cfg.identity.key_cache_ttl,
        )),
        review: Arc::new(ArcSwap::from_pointee(review)),
        reloading: tokio::sync::Mutex::new(()),
        upstream,
        labeler,
        media,
        recorder: Arc::new(writer),
        metrics: Metrics::new(),
        store,
        ledger_key,
        settings: Settings {
            models: cfg.models.clone(),
            review_input: cfg.review.input,
            review_output: cfg.review.output,
            on_block: cfg.review.on_block,
            escalation: cfg.review.escalation,
            label_header: cfg.label.header,
            max_body_bytes: cfg.server.max_body_bytes,
            verification_level: cfg.identity.level,
            minors: cfg.identity.minors.clone(),
        },
        admin: crate::AdminSettings {
            token: std::env::var("HEGUI_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            config_path: cfg.source.clone(),
        },
        identity_api: Some(identity_api),
        console,
    });
    Ok(Built {
        gateway,
        writer_task,
        sequencer_task,
        stop_sequencer,
    })
}
