//! hegui's configuration.
//!
//! One TOML file (every table `deny_unknown_fields`) is read into [`RawConfig`], environment
//! variables override secrets and deployment-specific values, and [`RawConfig::validate`]
//! turns it into the typed [`Config`] or lists *every* problem with the key it concerns.
//! With no file at all the defaults give a working gateway on SQLite under `./hegui-data`.

mod raw;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::{
    RawClassifier, RawConfig, RawConsent, RawEscalation, RawIdentity, RawLabel, RawLog, RawMedia,
    RawMinors, RawModel, RawOtp, RawPolicyRule, RawReview, RawSafeAnswer, RawServer, RawStorage,
    RawUpstream,
};

/// Environment variables that override the file (secrets belong here, not in the file).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("HEGUI_UPSTREAM_API_KEY", "upstream.api_key"),
    ("HEGUI_UPSTREAM_BASE_URL", "upstream.base_url"),
    ("HEGUI_DATABASE_URL", "storage.database_url"),
    ("HEGUI_LISTEN", "server.listen"),
    ("HEGUI_LEDGER_SIGNING_KEY_FILE", "ledger.signing_key_file"),
    ("HEGUI_PI_KEY_FILE", "identity.pi_key_file"),
    ("HEGUI_ENVIRONMENT", "server.environment"),
];

/// The validated configuration the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Where records and accounts are stored.
    pub storage: StorageConfig,
    /// The model server hegui fronts.
    pub upstream: UpstreamConfig,
    /// Model names clients may ask for and what they map to upstream; empty = pass through.
    pub models: Vec<ModelMapping>,
    /// The identity gate.
    pub identity: IdentityConfig,
    /// Input and output review.
    pub review: ReviewConfig,
    /// GB 45438 labels on generated text.
    pub label: LabelConfig,
    /// Logging.
    pub log: LogConfig,
    /// The tamper-evident log.
    pub ledger: LedgerConfig,
    /// How long record content is kept.
    pub retention: RetentionConfig,
    /// The public complaint channel and the staff console.
    pub console: ConsoleConfig,
    /// Images and speech, and their labels.
    pub media: MediaConfig,
    /// The file this configuration was loaded from (`None`: defaults and environment only).
    pub source: Option<PathBuf>,
}

/// The public complaint channel and the staff console (`[console]`).
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Serve `/complaints` and `/console`.
    pub enabled: bool,
    /// Complaints accepted per client address per hour.
    pub complaints_per_ip_per_hour: u32,
    /// Login attempts per client address per 15 minutes.
    pub logins_per_ip_per_15min: u32,
    /// Longest session.
    pub session: Duration,
    /// Inactivity that ends a session.
    pub idle: Duration,
    /// Failed logins in a row that lock an account.
    pub max_failed_logins: u32,
    /// How long a lock lasts.
    pub lockout: Duration,
    /// Send cookies with `Secure`.
    pub secure_cookies: bool,
    /// Hours for a decision: illegal (A1), other risks, rights, personal information, other.
    pub deadline_hours: [u32; 5],
}

/// The tamper-evident log.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Log name on checkpoints (also the signing key's name).
    pub origin: String,
    /// File holding the signing key (created on first start if absent). The environment
    /// variable `HEGUI_LEDGER_SIGNING_KEY` (a key string) takes precedence over the file.
    pub signing_key_file: PathBuf,
    /// Interval between scheduled checkpoints.
    pub checkpoint_interval: Duration,
}

/// Retention of record content (proofs outlive it).
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Interaction content, at least 183 days (six months, Cybersecurity Law).
    pub interaction: Duration,
    /// Other compliance records, at least 1095 days (three years, PIPL Art. 56 records).
    pub records: Duration,
    /// Interval between purge runs.
    pub purge_interval: Duration,
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body accepted (larger → 413).
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight requests and streams.
    pub shutdown_grace: Duration,
    /// Running in production (development-only parts are refused).
    pub production: bool,
}

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Directory for the embedded database and other local state.
    pub data_dir: PathBuf,
    /// Connection pool size.
    pub max_connections: u32,
}

/// The upstream OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Base URL including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// Bearer token sent upstream, if any.
    pub api_key: Option<String>,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed until the response headers arrive.
    pub first_byte_timeout: Duration,
    /// Longest silence allowed between two chunks of a streamed response.
    pub idle_timeout: Duration,
    /// Time allowed for a whole non-streaming response.
    pub request_timeout: Duration,
}

/// One client-visible model name and the upstream model it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMapping {
    /// Name clients use.
    pub name: String,
    /// Name sent upstream.
    pub upstream: String,
}

/// The identity gate and the real-name verification flows.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Verification required before service (Article 12).
    pub level: VerificationLevel,
    /// Where a user completes verification; quoted in the 403 message.
    pub verify_url: String,
    /// How long a looked-up key is remembered: revocations, suspensions and verifications
    /// made by another process take effect within this time.
    pub key_cache_ttl: Duration,
    /// Anyone may register through the API.
    pub open_registration: bool,
    /// Registrations from one network address per hour.
    pub register_per_ip_per_hour: u32,
    /// Header with the client address behind a proxy (`None`: the TCP peer).
    pub client_ip_header: Option<String>,
    /// The PI key file.
    pub pi_key_file: PathBuf,
    /// Create the PI key file when missing (development only).
    pub pi_key_generate: bool,
    /// Keep the encrypted ID number after a successful check.
    pub store_id_number: bool,
    /// ID checks per account per day.
    pub id_checks_per_day: u32,
    /// The SMS sender.
    pub sms: hegui_identity::providers::SmsConfig,
    /// The identity authority.
    pub authority: Option<hegui_identity::providers::AuthorityConfig>,
    /// One-time code limits.
    pub otp: hegui_identity::service::OtpPolicy,
    /// Version of the separate-consent text.
    pub consent_version: String,
    /// The separate-consent text.
    pub consent_text: String,
    /// Minors mode.
    pub minors: MinorsConfig,
}

/// Which factors must be verified before service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationLevel {
    /// Mobile number by one-time code.
    pub phone: bool,
    /// ID number + name with the identity authority.
    pub id: bool,
}

impl VerificationLevel {
    /// Parses `none`, `phone`, `id`, `phone+id`.
    pub fn parse(s: &str) -> Option<VerificationLevel> {
        let (phone, id) = match s.trim() {
            "none" => (false, false),
            "phone" => (true, false),
            "id" => (false, true),
            "phone+id" | "id+phone" => (true, true),
            _ => return None,
        };
        Some(VerificationLevel { phone, id })
    }
}

impl fmt::Display for VerificationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.phone, self.id) {
            (false, false) => "none",
            (true, false) => "phone",
            (false, true) => "id",
            (true, true) => "phone+id",
        })
    }
}

/// Minors mode (users verified as under 18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinorsConfig {
    /// Requests per day (China time); 0 = no limit.
    pub daily_requests: u32,
    /// Quiet hours as minutes after local midnight `[start, end)`, wrapping past midnight.
    pub quiet_hours: Option<(u16, u16)>,
    /// Block what would be flagged for an adult.
    pub block_flagged: bool,
}

impl MinorsConfig {
    /// Whether `minute` (after local midnight) falls in the quiet hours.
    pub fn is_quiet(&self, minute: u16) -> bool {
        match self.quiet_hours {
            None => false,
            Some((a, b)) if a <= b => minute >= a && minute < b,
            Some((a, b)) => minute >= a || minute < b,
        }
    }
}

/// What to do when input review blocks a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBlock {
    /// Answer with an OpenAI-style error, `code: "content_policy_violation"`.
    Error,
    /// Answer with the configured safe answer, without calling the model.
    SafeAnswer,
}

/// Review settings.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    /// Operator lexicon files.
    pub lexicons: Vec<PathBuf>,
    /// Also load the built-in demonstration lexicon.
    pub demo_lexicon: bool,
    /// Review prompts.
    pub input: bool,
    /// Review outputs.
    pub output: bool,
    /// Response to a blocked prompt.
    pub on_block: OnBlock,
    /// The default safe answer text.
    pub safe_answer: String,
    /// Detect personal information.
    pub pii: bool,
    /// (risk, severity, stage) → action, and safe answers per risk.
    pub policy: hegui_policy::ReviewPolicy,
    /// Per-user escalation.
    pub escalation: Escalation,
    /// Guard models.
    pub guards: Vec<hegui_guard::GuardConfig>,
    /// The built-in classifier, when configured.
    pub classifier: Option<ClassifierConfig>,
}

/// `[review.classifier]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifierConfig {
    /// The model file.
    pub model: PathBuf,
    /// Classify prompts.
    pub input: bool,
    /// Classify answers.
    pub output: bool,
}

/// Suspend users whose prompts keep being flagged (0 turns a limit off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Escalation {
    /// Flagged or stopped prompts in a row.
    pub flagged_in_a_row: u32,
    /// Flagged or stopped prompts in one day (UTC+8).
    pub flagged_per_day: u32,
}

/// Where the explicit text label goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelPosition {
    /// Before the generated text.
    Start,
    /// After the generated text.
    End,
    /// No explicit text label (the client UI shows one instead).
    None,
}

/// GB 45438 labeling of generated text.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// The provider's code written to `ContentProducer`.
    pub content_producer: String,
    /// Wording of the explicit label.
    pub explicit_text: String,
    /// Where the explicit label goes.
    pub explicit_position: LabelPosition,
    /// Send the implicit label in the `X-AIGC` header too.
    pub header: bool,
}

/// The corner of an image that carries the visible label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCorner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    BottomRight,
}

/// Where the audio cue goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCue {
    /// Before the speech.
    Start,
    /// After the speech.
    End,
    /// Both.
    Both,
}

/// `[media]`: generated images and speech and their GB 45438 labels.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Serve `/v1/images/generations`.
    pub images: bool,
    /// Serve `/v1/audio/speech`.
    pub audio: bool,
    /// Wording of the visible image label.
    pub explicit_text: String,
    /// Where it goes.
    pub image_corner: ImageCorner,
    /// Embed the invisible watermark.
    pub watermark: bool,
    /// The watermark secret (`HEGUI_WATERMARK_KEY` overrides it).
    pub watermark_key_file: PathBuf,
    /// The label signing key (`HEGUI_LABEL_SIGNING_KEY` overrides it).
    pub label_signing_key_file: PathBuf,
    /// Where the audio cue goes.
    pub audio_cue: AudioCue,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info` or `hegui_gateway=debug`.
    pub level: String,
}

/// One problem in a configuration, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted key, e.g. `upstream.base_url` or `models[1].name`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a key or value of the wrong kind.
    #[error("{path}: {key}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The key at fault (dotted path), or `(file)` when the TOML itself is malformed.
        key: String,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// The values are well-formed but not usable; every problem is listed.
    #[error("{} problem(s) in the configuration:\n{}", .0.len(), list(.0))]
    Invalid(Vec<Issue>),
}

/// True when the dotted keys `a` and `b` are the same, or one lies inside the other.
fn related(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| {
        x.strip_prefix(y)
            .is_some_and(|r| r.is_empty() || r.starts_with('.') || r.starts_with('['))
    };
    inside(a, b) || inside(b, a)
}

fn list(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Loads `path` (or the defaults when `None`), applies the environment, validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let found = match path {
            Some(p) => RawConfig::from_file_all(p)?,
            None => raw::Structure {
                rest: Some(RawConfig::default()),
                problems: Vec::new(),
                left_out: Vec::new(),
            },
        };
        let base = path.and_then(Path::parent);
        if found.problems.is_empty() {
            let mut raw = found.rest.unwrap_or_default();
            raw.apply_env(|k| std::env::var(k).ok());
            let mut cfg = raw.validate(base)?;
            cfg.source = path.map(Path::to_path_buf);
            return Ok(cfg);
        }
        // Problems of structure first, then those of the values that could be read (none of
        // a key left out, or inside or above one: those would be about its default).
        let mut issues: Vec<Issue> = found
            .problems
            .into_iter()
            .map(|(key, message)| Issue { key, message })
            .collect();
        if let Some(mut raw) = found.rest {
            raw.apply_env(|k| std::env::var(k).ok());
            match raw.validate(base) {
                Err(ConfigError::Invalid(more)) => issues.extend(
                    more.into_iter()
                        .filter(|i| !found.left_out.iter().any(|k| related(&i.key, k))),
                ),
                Err(other) => return Err(other),
                Ok(_) => {}
            }
        }
        match (path, issues.len()) {
            (Some(p), 1) => {
                let Issue { key, message } = issues.remove(0);
                Err(ConfigError::Parse {
                    path: p.to_path_buf(),
                    key,
                    message,
                })
            }
            _ => Err(ConfigError::Invalid(issues)),
        }
    }
}
