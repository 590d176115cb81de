//! The configuration file as written: every table rejects unknown keys, every key has a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ConfigError;

/// The configuration file exactly as written, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// `[server]`
    pub server: RawServer,
    /// `[storage]`
    pub storage: RawStorage,
    /// `[upstream]`
    pub upstream: RawUpstream,
    /// `[[models]]`
    pub models: Vec<RawModel>,
    /// `[identity]`
    pub identity: RawIdentity,
    /// `[review]`
    pub review: RawReview,
    /// `[label]`
    pub label: RawLabel,
    /// `[log]`
    pub log: RawLog,
    /// `[ledger]`
    pub ledger: RawLedger,
    /// `[retention]`
    pub retention: RawRetention,
    /// `[console]`
    pub console: RawConsole,
    /// `[media]`
    pub media: RawMedia,
}

/// `[media]`: `/v1/images/generations` and `/v1/audio/speech`, and the GB 45438 labels put
/// on the images and audio they return.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMedia {
    /// Serve `/v1/images/generations`.
    pub images: bool,
    /// Serve `/v1/audio/speech`.
    pub audio: bool,
    /// Wording of the visible label drawn on images.
    pub explicit_text: String,
    /// Corner of the visible label: `top-left`, `top-right`, `bottom-left`, `bottom-right`.
    pub image_corner: String,
    /// Embed the invisible watermark (payload from the ProduceID) in images.
    pub watermark: bool,
    /// File holding the watermark secret; empty = `<data_dir>/watermark.key`.
    pub watermark_key_file: String,
    /// File holding the Ed25519 key that signs `ReservedCode1` of media labels; empty =
    /// `<data_dir>/label-signing.key`.
    pub label_signing_key_file: String,
    /// Where the audio cue goes: `start`, `end` or `both`.
    pub audio_cue: String,
}

impl Default for RawMedia {
    fn default() -> Self {
        RawMedia {
            images: true,
            audio: true,
            explicit_text: "AI生成".into(),
            image_corner: "bottom-right".into(),
            watermark: true,
            watermark_key_file: String::new(),
            label_signing_key_file: String::new(),
            audio_cue: "start".into(),
        }
    }
}

/// `[console]`: the public complaint channel and the staff console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConsole {
    /// Serve `/complaints` and `/console`.
    pub enabled: bool,
    /// Complaints accepted per client address per hour.
    pub complaints_per_ip_per_hour: u32,
    /// Login attempts per client address per 15 minutes.
    pub logins_per_ip_per_15min: u32,
    /// Hours a console session lasts at most.
    pub session_hours: u32,
    /// Minutes of inactivity that end a session.
    pub idle_minutes: u32,
    /// Failed logins in a row that lock an account.
    pub max_failed_logins: u32,
    /// Minutes an account stays locked.
    pub lockout_minutes: u32,
    /// `Secure` cookies: `auto` (in production), `always`, `never`.
    pub secure_cookies: String,
    /// `[console.deadlines]`: hours for a decision per complaint category.
    pub deadlines: RawDeadlines,
}

impl Default for RawConsole {
    fn default() -> Self {
        RawConsole {
            enabled: true,
            complaints_per_ip_per_hour: 20,
            logins_per_ip_per_15min: 30,
            session_hours: 8,
            idle_minutes: 30,
            max_failed_logins: 5,
            lockout_minutes: 15,
            secure_cookies: "auto".into(),
            deadlines: RawDeadlines::default(),
        }
    }
}

/// `[console.deadlines]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDeadlines {
    /// Illegal content (TC260 A1).
    pub illegal_hours: u32,
    /// Other TC260 risks.
    pub risk_hours: u32,
    /// Infringement of the complainant's rights.
    pub rights_hours: u32,
    /// Personal-information requests.
    pub personal_info_hours: u32,
    /// Everything else.
    pub other_hours: u32,
}

impl Default for RawDeadlines {
    fn default() -> Self {
        RawDeadlines {
            illegal_hours: 24,
            risk_hours: 72,
            rights_hours: 168,
            personal_info_hours: 360,
            other_hours: 168,
        }
    }
}

/// `[ledger]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLedger {
    /// Log name on checkpoints; empty = `hegui/<label.content_producer>`.
    pub origin: String,
    /// File holding the checkpoint signing key; empty = `<data_dir>/ledger-signing.key`.
    pub signing_key_file: String,
    /// Seconds between scheduled checkpoints.
    pub checkpoint_interval_secs: u64,
}

impl Default for RawLedger {
    fn default() -> Self {
        RawLedger {
            origin: String::new(),
            signing_key_file: String::new(),
            checkpoint_interval_secs: 10,
        }
    }
}

/// `[retention]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetention {
    /// Days interaction content is kept.
    pub interaction_days: u64,
    /// Days other compliance records' content is kept.
    pub record_days: u64,
    /// Hours between purge runs in `hegui serve`.
    pub purge_interval_hours: u64,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            interaction_days: 183,
            record_days: 1095,
            purge_interval_hours: 24,
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Address to listen on.
    pub listen: String,
    /// Largest request body in bytes.
    pub max_body_bytes: u64,
    /// Seconds shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// `development` or `production`; production refuses development-only parts (the
    /// console SMS sender, generated key files).
    pub environment: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 4 * 1024 * 1024,
            shutdown_grace_secs: 30,
            environment: "development".into(),
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    /// `sqlite://…` or `postgres://…`; empty = SQLite file in `data_dir`.
    pub database_url: String,
    /// Local state directory.
    pub data_dir: String,
    /// Connection pool size.
    pub max_connections: u32,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            database_url: String::new(),
            data_dir: "./hegui-data".into(),
            max_connections: 8,
        }
    }
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    /// Base URL including `/v1`.
    pub base_url: String,
    /// Bearer token; prefer `HEGUI_UPSTREAM_API_KEY`.
    pub api_key: String,
    /// Milliseconds to connect.
    pub connect_timeout_ms: u64,
    /// Milliseconds until response headers.
    pub first_byte_timeout_ms: u64,
    /// Milliseconds of silence allowed between stream chunks.
    pub idle_timeout_ms: u64,
    /// Milliseconds for a whole non-streaming response.
    pub request_timeout_ms: u64,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            base_url: "http://127.0.0.1:8000/v1".into(),
            api_key: String::new(),
            connect_timeout_ms: 2_000,
            first_byte_timeout_ms: 60_000,
            idle_timeout_ms: 30_000,
            request_timeout_ms: 300_000,
        }
    }
}

/// One `[[models]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Name clients use.
    pub name: String,
    /// Upstream name; defaults to `name`.
    #[serde(default)]
    pub upstream: Option<String>,
}

/// `[identity]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIdentity {
    /// Verification required before service: `none`, `phone`, `id` or `phone+id`.
    pub level: Option<String>,
    /// Older form of `level`: `false` means `none`, `true` the default level.
    pub require_verification: Option<bool>,
    /// Where users verify; quoted in the 403 message.
    pub verify_url: String,
    /// Milliseconds a looked-up key is remembered (0: every request asks the database).
    pub key_cache_ms: u64,
    /// Anyone may register an account through `POST /identity/v1/register`.
    pub open_registration: bool,
    /// Registrations accepted from one network address per hour.
    pub register_per_ip_per_hour: u32,
    /// Header carrying the client address when behind a reverse proxy (e.g.
    /// `X-Forwarded-For`; its first address is used). Empty: the TCP peer address.
    pub client_ip_header: String,
    /// PI key file (AES-256-GCM keys and the blind-index key); relative to the config file.
    /// Empty: `<data_dir>/pi-keys.toml`, created on first start outside production.
    pub pi_key_file: String,
    /// Keep the encrypted ID number after a successful check (otherwise only the result,
    /// a blind index for uniqueness and the masked form).
    pub store_id_number: bool,
    /// ID checks per account per day.
    pub id_checks_per_day: u32,
    /// The SMS sender for one-time codes.
    pub sms: hegui_identity::providers::SmsConfig,
    /// The identity authority that checks name + ID number.
    pub authority: Option<hegui_identity::providers::AuthorityConfig>,
    /// `[identity.otp]`
    pub otp: RawOtp,
    /// `[identity.consent]`
    pub consent: RawConsent,
    /// `[identity.minors]`
    pub minors: RawMinors,
}

impl Default for RawIdentity {
    fn default() -> Self {
        RawIdentity {
            level: None,
            require_verification: None,
            verify_url: "/identity/v1/status".into(),
            key_cache_ms: 1000,
            open_registration: true,
            register_per_ip_per_hour: 10,
            client_ip_header: String::new(),
            pi_key_file: String::new(),
            store_id_number: false,
            id_checks_per_day: 5,
            sms: hegui_identity::providers::SmsConfig::Console {},
            authority: None,
            otp: RawOtp::default(),
            consent: RawConsent::default(),
            minors: RawMinors::default(),
        }
    }
}

/// `[identity.otp]`: one-time code limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOtp {
    /// Seconds a code is accepted.
    pub ttl_secs: u64,
    /// Attempts per code.
    pub max_attempts: u32,
    /// Seconds between two codes for one account.
    pub resend_after_secs: u64,
    /// Codes to one number per hour.
    pub per_phone_per_hour: u32,
    /// Codes requested from one network address per hour.
    pub per_ip_per_hour: u32,
}

impl Default for RawOtp {
    fn default() -> Self {
        RawOtp {
            ttl_secs: 300,
            max_attempts: 5,
            resend_after_secs: 60,
            per_phone_per_hour: 5,
            per_ip_per_hour: 20,
        }
    }
}

/// `[identity.consent]`: the separate consent for sensitive PI (PIPL Art. 29).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConsent {
    /// Version of the text; change it whenever the text changes (users agree again).
    pub version: String,
    /// File with the text (relative to the config file); empty: hegui's default text.
    pub text_file: String,
}

impl Default for RawConsent {
    fn default() -> Self {
        RawConsent {
            version: "1".into(),
            text_file: String::new(),
        }
    }
}

/// `[identity.minors]`: minors mode, for users verified as under 18.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMinors {
    /// Requests a minor may make per day (China time); 0 = no limit.
    pub daily_requests: u32,
    /// Local (China time) hours without service, `HH:MM-HH:MM`; empty = none.
    pub quiet_hours: String,
    /// Stricter review: what would be flagged for an adult is blocked for a minor.
    pub block_flagged: bool,
}

impl Default for RawMinors {
    fn default() -> Self {
        RawMinors {
            daily_requests: 40,
            quiet_hours: "22:00-08:00".into(),
            block_flagged: true,
        }
    }
}

/// `[review]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReview {
    /// Operator lexicon files (relative paths are relative to the config file).
    pub lexicons: Vec<String>,
    /// Load the built-in demonstration lexicon.
    pub demo_lexicon: bool,
    /// Review prompts.
    pub input: bool,
    /// Review outputs.
    pub output: bool,
    /// `error` or `safe_answer`.
    pub on_block: String,
    /// The default safe answer.
    pub safe_answer: String,
    /// Detect personal information (ID, phone, bank card, e-mail, credit code numbers).
    pub pii: bool,
    /// `[[review.policy]]`: (risk, severity, stage) → action rules, first fit wins.
    pub policy: Vec<RawPolicyRule>,
    /// `[[review.safe_answers]]`: safe answers per risk, first fit wins.
    pub safe_answers: Vec<RawSafeAnswer>,
    /// `[review.escalation]`: suspend users whose prompts keep being flagged.
    pub escalation: RawEscalation,
    /// `[[review.guards]]`: guard models asked after the lexicon review.
    pub guards: Vec<hegui_guard::GuardConfig>,
    /// `[review.classifier]`: the built-in classifier.
    pub classifier: Option<RawClassifier>,
}

/// `[review.classifier]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClassifier {
    /// Model file written by `hegui classifier train` (relative to the config file).
    pub model: String,
    /// Classify prompts.
    #[serde(default = "yes")]
    pub input: bool,
    /// Classify answers (streams: at the end).
    #[serde(default = "yes")]
    pub output: bool,
}

fn yes() -> bool {
    true
}

/// One `[[review.policy]]` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicyRule {
    /// `*`, a category (`A1`..`A5`, `PII`) or a code (`A1-4`, `PII-phone`).
    pub risk: String,
    /// `low`, `medium`, `high`; absent for any.
    #[serde(default)]
    pub severity: Option<String>,
    /// `input`, `output`; absent for both.
    #[serde(default)]
    pub stage: Option<String>,
    /// `allow`, `flag`, `mask`, `block`, `safe_answer`.
    pub action: String,
}

/// One `[[review.safe_answers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSafeAnswer {
    /// Risks it answers for (as in `[[review.policy]]`).
    pub risk: String,
    /// The answer.
    pub text: String,
}

/// `[review.escalation]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEscalation {
    /// Suspend a user after this many flagged (or stopped) prompts in a row; 0 turns it off.
    pub flagged_in_a_row: u32,
    /// Suspend a user after this many flagged (or stopped) prompts in one day (UTC+8); 0
    /// turns it off.
    pub flagged_per_day: u32,
}

impl Default for RawReview {
    fn default() -> Self {
        RawReview {
            lexicons: Vec::new(),
            demo_lexicon: true,
            input: true,
            output: true,
            on_block: "error".into(),
            safe_answer: "抱歉，这个问题我无法回答。我们换个话题吧。".into(),
            pii: true,
            policy: Vec::new(),
            safe_answers: Vec::new(),
            escalation: RawEscalation::default(),
            guards: Vec::new(),
            classifier: None,
        }
    }
}

/// `[label]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLabel {
    /// Provider code for `ContentProducer`.
    pub content_producer: String,
    /// Explicit label wording.
    pub explicit_text: String,
    /// `start`, `end` or `none`.
    pub explicit_position: String,
    /// Send the `X-AIGC` header.
    pub header: bool,
}

impl Default for RawLabel {
    fn default() -> Self {
        RawLabel {
            content_producer: "hegui-unconfigured".into(),
            explicit_text: "本内容由人工智能生成".into(),
            explicit_position: "end".into(),
            header: true,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// `json` or `text`.
    pub format: String,
    /// `tracing` filter.
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl RawConfig {
    /// Reads and parses a TOML file; errors name the key and the line.
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        RawConfig::parse(&read_text(path)?)
            .map_err(|(key, message)| parse_error(path, key, message))
    }

    /// [`RawConfig::from_file`] reporting every problem of structure ([`RawConfig::parse_all`]).
    pub(crate) fn from_file_all(path: &Path) -> Result<Structure, ConfigError> {
        RawConfig::parse_all(&read_text(path)?)
            .map_err(|(key, message)| parse_error(path, key, message))
    }

    /// Parses TOML text; on error returns the dotted key at fault and a message with the line.
    pub fn parse(text: &str) -> Result<RawConfig, (String, String)> {
        let de = toml::Deserializer::new(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let at = inner
                .span()
                .map(|s| format!(" (line {})", line_at(text, s.start)))
                .unwrap_or_default();
            let key = if key == "." || key.is_empty() {
                "(file)".to_string()
            } else {
                key
            };
            (key, format!("{}{at}", inner.message().trim()))
        })
    }

    /// [`RawConfig::parse`], but reporting every problem of structure (a value of the wrong
    /// type, an unknown key, a missing field), not only the first: after each, the key at
    /// fault (or the whole array, for a bad element) is left out and the rest is read again.
    /// Returns the syntax error that stops all reading, or the [`Structure`] found.
    pub fn parse_all(text: &str) -> Result<Structure, (String, String)> {
        let first = match RawConfig::parse(text) {
            Ok(raw) => {
                return Ok(Structure {
                    rest: Some(raw),
                    problems: Vec::new(),
                    left_out: Vec::new(),
                })
            }
            Err(first) => first,
        };
        // The rest from the parsed table, their lines found through `toml_edit`, which keeps
        // every key's place.
        let (Ok(mut table), Ok(doc)) = (
            text.parse::<toml::Table>(),
            toml_edit::ImDocument::parse(text),
        ) else {
            return Err(first);
        };
        // Read from the table its keys come in sorted order: the problems are put back in
        // the file's order by line at the end.
        let mut problems: Vec<(Option<usize>, String, String)> = Vec::new();
        let mut left_out = Vec::new();
        let mut rest = None;
        for _ in 0..MAX_STRUCTURE_PROBLEMS {
            let value = toml::Value::Table(table.clone());
            let err = match serde_path_to_error::deserialize::<_, RawConfig>(value) {
                Ok(raw) => {
                    rest = Some(raw);
                    break;
                }
                Err(e) => e,
            };
            let mut path: Vec<Step> = err.path().iter().filter_map(Step::of).collect();
            let line = line_of(text, doc.as_table(), &path);
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            problems.push((
                line,
                dotted(&path),
                format!("{}{at}", err.into_inner().message().trim()),
            ));
            // A bad array element: the whole array is left out, since taking the element
            // alone out would renumber the ones after it.
            while matches!(path.last(), Some(Step::Index(_))) {
                path.pop();
            }
            if path.is_empty() || !remove(&mut table, &path) {
                break;
            }
            left_out.push(dotted(&path));
        }
        // The text parser is stricter in places (a date where text is expected, say): its
        // problem is listed too when the table's reading did not name the same key.
        if !problems.iter().any(|(_, k, _)| *k == first.0) {
            let line = first
                .1
                .rsplit_once("(line ")
                .and_then(|(_, l)| l.trim_end_matches(')').parse().ok());
            problems.push((line, first.0.clone(), first.1.clone()));
            rest = None;
        }
        problems.sort_by_key(|(line, _, _)| line.unwrap_or(usize::MAX));
        Ok(Structure {
            rest,
            problems: problems.into_iter().map(|(_, k, m)| (k, m)).collect(),
            left_out,
        })
    }

    /// Applies the environment overrides listed in [`crate::ENV_OVERRIDES`].
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("HEGUI_UPSTREAM_API_KEY") {
            self.upstream.api_key = v;
        }
        if let Some(v) = get("HEGUI_UPSTREAM_BASE_URL") {
            self.upstream.base_url = v;
        }
        if let Some(v) = get("HEGUI_DATABASE_URL") {
            self.storage.database_url = v;
        }
        if let Some(v) = get("HEGUI_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = get("HEGUI_LEDGER_SIGNING_KEY_FILE") {
            self.ledger.signing_key_file = v;
        }
        if let Some(v) = get("HEGUI_PI_KEY_FILE") {
            self.identity.pi_key_file = v;
        }
        if let Some(v) = get("HEGUI_ENVIRONMENT") {
            self.server.environment = v;
        }
    }

    /// Resolves a possibly relative path from the file against the config file's directory.
    pub(crate) fn resolve(base: Option<&Path>, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        match base {
            Some(b) if p.is_relative() && !b.as_os_str().is_empty() => b.join(p),
            _ => p,
        }
    }
}

/// The configuration file's text.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_error(path: &Path, key: String, message: String) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        key,
        message,
    }
}

/// What [`RawConfig::parse_all`] found.
#[derive(Debug)]
pub struct Structure {
    /// The configuration without the keys left out; `None` when reading stopped before the
    /// end (too many problems, or one the table's reading cannot step past).
    pub rest: Option<RawConfig>,
    /// Each problem: dotted key, message with its line.
    pub problems: Vec<(String, String)>,
    /// The dotted keys left out to read on: their values' own checks would be about the
    /// defaults that stand in for them.
    pub left_out: Vec<String>,
}

/// A key path as the messages write it: `models[1].name`; `(file)` for the whole file.
fn dotted(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) if s.is_empty() => s.push_str(k),
            Step::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    if s.is_empty() {
        "(file)".to_string()
    } else {
        s
    }
}

/// Most structure problems listed from one file before giving up.
const MAX_STRUCTURE_PROBLEMS: usize = 50;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn of(s: &serde_path_to_error::Segment) -> Option<Step> {
        match s {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        }
    }
}

/// Removes the value at `path` from `table`; false when there is none.
fn remove(table: &mut toml::Table, path: &[Step]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let Some(Step::Key(first)) = parents.first().or(Some(last)) else {
        return false;
    };
    if parents.is_empty() {
        return table.remove(first).is_some();
    }
    let Some(mut at) = table.get_mut(first) else {
        return false;
    };
    for step in &parents[1..] {
        let next = match (step, at) {
            (Step::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Step::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        at = next;
    }
    match (last, at) {
        (Step::Key(k), toml::Value::Table(t)) => t.remove(k).is_some(),
        (Step::Index(i), toml::Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// The line in `text` where the key or value at `path` is written.
fn line_of(text: &str, root: &toml_edit::Table, path: &[Step]) -> Option<usize> {
    span_of(root, path).map(|offset| line_at(text, offset))
}

/// Byte offset of the deepest key or value along `path` that the document has.
fn span_of(table: &dyn toml_edit::TableLike, path: &[Step]) -> Option<usize> {
    let Some((Step::Key(k), rest)) = path.split_first() else {
        return None;
    };
    let here = table.key(k).and_then(|k| k.span()).map(|s| s.start);
    match table.get(k) {
        Some(item) => span_in_item(item, rest).or(here),
        None => here,
    }
}

fn span_in_item(item: &toml_edit::Item, rest: &[Step]) -> Option<usize> {
    use toml_edit::{Item, Value};
    let start = |s: Option<std::ops::Range<usize>>| s.map(|s| s.start);
    match rest.split_first() {
        None => start(item.span()),
        Some((Step::Key(_), _)) => span_of(item.as_table_like()?, rest),
        Some((Step::Index(i), more)) => match item {
            Item::ArrayOfTables(a) => {
                let t = a.get(*i)?;
                span_of(t, more).or(start(t.span()))
            }
            Item::Value(Value::Array(a)) => {
                let v = a.get(*i)?;
                match v {
                    Value::InlineTable(t) => span_of(t, more).or(start(v.span())),
                    _ => start(v.span()),
                }
            }
            _ => None,
        },
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}
