//! Turns a [`RawConfig`] into a [`Config`], collecting every problem instead of stopping at
//! the first, so `hegui config check` can list them all.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hegui_types::AigcLabel;

use crate::raw::RawConfig;
use crate::{
    Config, ConfigError, ConsoleConfig, IdentityConfig, Issue, LabelConfig, LabelPosition,
    LedgerConfig, LogConfig, LogFormat, MinorsConfig, ModelMapping, OnBlock, RetentionConfig,
    ReviewConfig, ServerConfig, StorageConfig, UpstreamConfig, VerificationLevel,
};

struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            key: key.into(),
            message: message.into(),
        });
    }

    fn millis(&mut self, key: &str, ms: u64) -> Duration {
        if ms == 0 {
            self.push(key, "must be greater than 0 (milliseconds)");
        }
        Duration::from_millis(ms)
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

impl RawConfig {
    /// Validates into a [`Config`]; `base` is the config file's directory for relative paths.
    pub fn validate(self, base: Option<&Path>) -> Result<Config, ConfigError> {
        let mut issues = Issues(Vec::new());
        let r = self;

        let listen = match r.server.listen.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                issues.push(
                    "server.listen",
                    format!(
                        "{:?} is not an address:port such as \"127.0.0.1:8080\"",
                        r.server.listen
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        if r.server.max_body_bytes < 1024 {
            issues.push("server.max_body_bytes", "must be at least 1024 bytes");
        }
        let max_body_bytes = usize::try_from(r.server.max_body_bytes).unwrap_or(usize::MAX);

        let data_dir = RawConfig::resolve(base, &r.storage.data_dir);
        let database_url = if r.storage.database_url.is_empty() {
            format!("sqlite://{}", data_dir.join("hegui.db").display())
        } else {
            r.storage.database_url.clone()
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            issues.push(
                "storage.database_url",
                "must start with sqlite: (embedded) or postgres:// (e.g. postgres://user@127.0.0.1:5432/hegui)",
            );
        }
        if r.storage.max_connections == 0 {
            issues.push("storage.max_connections", "must be at least 1");
        }

        if !is_http_url(&r.upstream.base_url) {
            issues.push(
                "upstream.base_url",
                format!(
                    "{:?} is not an http(s) URL; give the model server's OpenAI base, e.g. \"http://127.0.0.1:8000/v1\"",
                    r.upstream.base_url
                ),
            );
        }
        let upstream = UpstreamConfig {
            base_url: r.upstream.base_url.trim_end_matches('/').to_string(),
            api_key: Some(r.upstream.api_key.clone()).filter(|k| !k.is_empty()),
            connect_timeout: issues
                .millis("upstream.connect_timeout_ms", r.upstream.connect_timeout_ms),
            first_byte_timeout: issues.millis(
                "upstream.first_byte_timeout_ms",
                r.upstream.first_byte_timeout_ms,
            ),
            idle_timeout: issues.millis("upstream.idle_timeout_ms", r.upstream.idle_timeout_ms),
            request_timeout: issues
                .millis("upstream.request_timeout_ms", r.upstream.request_timeout_ms),
        };

        let mut seen = HashSet::new();
        let mut models = Vec::new();
        for (i, m) in r.models.iter().enumerate() {
            if m.name.trim().is_empty() {
                issues.push(format!("models[{i}].name"), "must not be empty");
            } else if !seen.insert(m.name.clone()) {
                issues.push(
                    format!("models[{i}].name"),
                    format!("{:?} is listed twice", m.name),
                );
            }
            let upstream = m.upstream.clone().unwrap_or_else(|| m.name.clone());
            if upstream.trim().is_empty() {
                issues.push(format!("models[{i}].upstream"), "must not be empty");
            }
            models.push(ModelMapping {
                name: m.name.clone(),
                upstream,
            });
        }

        let on_block = match r.review.on_block.as_str() {
            "error" => OnBlock::Error,
            "safe_answer" => OnBlock::SafeAnswer,
            other => {
                issues.push(
                    "review.on_block",
                    format!("{other:?} is not one of \"error\", \"safe_answer\""),
                );
                OnBlock::Error
            }
        };
        if r.review.safe_answer.trim().is_empty() {
            issues.push("review.safe_answer", "must not be empty");
        }
        let lexicons: Vec<PathBuf> = r
            .review
            .lexicons
            .iter()
            .map(|p| RawConfig::resolve(base, p))
            .collect();
        for (i, p) in lexicons.iter().enumerate() {
            if !p.is_file() {
                issues.push(
                    format!("review.lexicons[{i}]"),
                    format!("{} does not exist or is not a file", p.display()),
                );
            }
        }
        if r.review.lexicons.is_empty()
            && !r.review.demo_lexicon
            && (r.review.input || r.review.output)
        {
            issues.push(
                "review.lexicons",
                "review is on but no lexicon is configured: list lexicon files or set demo_lexicon = true",
            );
        }

        let mut rules = Vec::new();
        for (i, rule) in r.review.policy.iter().enumerate() {
            let key = |k: &str| format!("review.policy[{i}].{k}");
            let risk = hegui_policy::RiskPattern::parse(&rule.risk)
                .map_err(|e| issues.push(key("risk"), e))
                .ok();
            let severity = match rule.severity.as_deref() {
                None => Some(None),
                Some(s) => match hegui_types::Severity::parse(s) {
                    Some(v) => Some(Some(v)),
                    None => {
                        issues.push(
                            key("severity"),
                            format!("{s:?} is not one of \"low\", \"medium\", \"high\""),
                        );
                        None
                    }
                },
            };
            let stage = match rule.stage.as_deref() {
                None => Some(None),
                Some("input") => Some(Some(hegui_types::Stage::Input)),
                Some("output") => Some(Some(hegui_types::Stage::Output)),
                Some(s) => {
                    issues.push(
                        key("stage"),
                        format!(
                            "{s:?} is not one of \"input\", \"output\" (leave it out for both)"
                        ),
                    );
                    None
                }
            };
            let action = hegui_types::Action::parse(&rule.action);
            if action.is_none() {
                issues.push(
                    key("action"),
                    format!(
                        "{:?} is not one of allow, flag, mask, block, safe_answer",
                        rule.action
                    ),
                );
            }
            if let (Some(risk), Some(severity), Some(stage), Some(action)) =
                (risk, severity, stage, action)
            {
                rules.push(hegui_policy::PolicyRule {
                    risk,
                    severity,
                    stage,
                    action,
                });
            }
        }
        let mut safe_answers = Vec::new();
        for (i, a) in r.review.safe_answers.iter().enumerate() {
            match hegui_policy::RiskPattern::parse(&a.risk) {
                Ok(p) => safe_answers.push((p, a.text.clone())),
                Err(e) => issues.push(format!("review.safe_answers[{i}].risk"), e),
            }
            if a.text.trim().is_empty() {
                issues.push(
                    format!("review.safe_answers[{i}].text"),
                    "must not be empty",
                );
            }
        }
        let policy =
            hegui_policy::ReviewPolicy::new(rules, safe_answers, r.review.safe_answer.clone());
        let classifier = r.review.classifier.as_ref().map(|c| {
            let model = RawConfig::resolve(base, &c.model);
            if !model.is_file() {
                issues.push(
                    "review.classifier.model",
                    format!(
                        "{} does not exist or is not a file: train one with `hegui classifier train`",
                        model.display()
                    ),
                );
            }
            crate::ClassifierConfig { model, input: c.input, output: c.output }
        });
        for (i, g) in r.review.guards.iter().enumerate() {
            if let Err(e) = g.validate() {
                for p in e.problems {
                    issues.push(format!("review.guards[{i}].{}", p.key), p.message);
                }
            }
        }

        let explicit_position = match r.label.explicit_position.as_str() {
            "start" => LabelPosition::Start,
            "end" => LabelPosition::End,
            "none" => LabelPosition::None,
            other => {
                issues.push(
                    "label.explicit_position",
                    format!("{other:?} is not one of \"start\", \"end\", \"none\""),
                );
                LabelPosition::End
            }
        };
        let t = &r.label.explicit_text;
        if explicit_position != LabelPosition::None
            && !((t.contains("人工智能") || t.contains("AI"))
                && (t.contains("生成") || t.contains("合成")))
        {
            issues.push(
                "label.explicit_text",
                format!(
                    "{t:?} lacks what GB 45438 requires: an AI element (\"人工智能\" or \"AI\") and a generation element (\"生成\" or \"合成\"), e.g. \"本内容由人工智能生成\""
                ),
            );
        }
        let probe = AigcLabel {
            label: "1".into(),
            content_producer: r.label.content_producer.clone(),
            produce_id: "x".into(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        };
        if r.label.content_producer.is_empty() {
            issues.push(
                "label.content_producer",
                "must not be empty: give your provider code",
            );
        } else if let Err(e) = probe.validate() {
            issues.push("label.content_producer", e.to_string());
        }

        let format = match r.log.format.as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                issues.push(
                    "log.format",
                    format!("{other:?} is not one of \"json\", \"text\""),
                );
                LogFormat::Text
            }
        };

        let origin = if r.ledger.origin.is_empty() {
            format!("hegui/{}", r.label.content_producer)
        } else {
            r.ledger.origin.clone()
        };
        if origin.is_empty() || origin.contains(char::is_whitespace) || origin.contains('+') {
            issues.push(
                "ledger.origin",
                format!("{origin:?} must be a non-empty name without spaces or '+', e.g. \"example.com/hegui-log\""),
            );
        }
        let signing_key_file = if r.ledger.signing_key_file.is_empty() {
            data_dir.join("ledger-signing.key")
        } else {
            RawConfig::resolve(base, &r.ledger.signing_key_file)
        };
        if r.ledger.checkpoint_interval_secs == 0 {
            issues.push("ledger.checkpoint_interval_secs", "must be at least 1");
        }
        if r.retention.interaction_days < 183 {
            issues.push(
                "retention.interaction_days",
                format!("{} is below the legal minimum: interaction records are kept at least six months (183 days) under the Cybersecurity Law", r.retention.interaction_days),
            );
        }
        if r.retention.record_days < 1095 {
            issues.push(
                "retention.record_days",
                format!("{} is below three years (1095 days), the minimum for PIPL impact-assessment and processing records", r.retention.record_days),
            );
        }
        if r.retention.purge_interval_hours == 0 {
            issues.push("retention.purge_interval_hours", "must be at least 1");
        }
        if r.identity.key_cache_ms > 60_000 {
            issues.push(
                "identity.key_cache_ms",
                "must be at most 60000: a revoked key or suspended user must be refused within a minute",
            );
        }
        let production = match r.server.environment.as_str() {
            "production" => true,
            "development" => false,
            other => {
                issues.push(
                    "server.environment",
                    format!("{other:?} is not \"development\" or \"production\""),
                );
                true
            }
        };
        let secure_cookies = match r.console.secure_cookies.as_str() {
            "auto" => production,
            "always" => true,
            "never" => {
                if production {
                    issues.push(
                        "console.secure_cookies",
                        "\"never\" is refused in production: session cookies must not travel over plain HTTP",
                    );
                }
                false
            }
            other => {
                issues.push(
                    "console.secure_cookies",
                    format!("{other:?} is not auto, always or never"),
                );
                false
            }
        };
        for (key, v) in [
            (
                "console.complaints_per_ip_per_hour",
                r.console.complaints_per_ip_per_hour,
            ),
            (
                "console.logins_per_ip_per_15min",
                r.console.logins_per_ip_per_15min,
            ),
            ("console.session_hours", r.console.session_hours),
            ("console.idle_minutes", r.console.idle_minutes),
            ("console.max_failed_logins", r.console.max_failed_logins),
            (
                "console.deadlines.illegal_hours",
                r.console.deadlines.illegal_hours,
            ),
            (
                "console.deadlines.risk_hours",
                r.console.deadlines.risk_hours,
            ),
            (
                "console.deadlines.rights_hours",
                r.console.deadlines.rights_hours,
            ),
            (
                "console.deadlines.personal_info_hours",
                r.console.deadlines.personal_info_hours,
            ),
            (
                "console.deadlines.other_hours",
                r.console.deadlines.other_hours,
            ),
        ] {
            if v == 0 {
                issues.push(key, "must be at least 1");
            }
        }
        let identity = validate_identity(&r.identity, base, &data_dir, production, &mut issues);
        let media = validate_media(&r.media, base, &data_dir, &mut issues);
        let day = Duration::from_secs(86_400);

        if !issues.0.is_empty() {
            return Err(ConfigError::Invalid(issues.0));
        }
        Ok(Config {
            server: ServerConfig {
                listen,
                max_body_bytes,
                shutdown_grace: Duration::from_secs(r.server.shutdown_grace_secs),
                production,
            },
            storage: StorageConfig {
                database_url,
                data_dir,
                max_connections: r.storage.max_connections,
            },
            upstream,
            models,
            identity,
            review: ReviewConfig {
                lexicons,
                demo_lexicon: r.review.demo_lexicon,
                input: r.review.input,
                output: r.review.output,
                on_block,
                safe_answer: r.review.safe_answer,
                pii: r.review.pii,
                policy,
                escalation: crate::Escalation {
                    flagged_in_a_row: r.review.escalation.flagged_in_a_row,
                    flagged_per_day: r.review.escalation.flagged_per_day,
                },
                guards: r.review.guards,
                classifier,
            },
            label: LabelConfig {
                content_producer: r.label.content_producer,
                explicit_text: r.label.explicit_text,
                explicit_position,
                header: r.label.header,
            },
            log: LogConfig {
                format,
                level: r.log.level,
            },
            source: None,
            ledger: LedgerConfig {
                origin,
                signing_key_file,
                checkpoint_interval: Duration::from_secs(r.ledger.checkpoint_interval_secs),
            },
            console: ConsoleConfig {
                enabled: r.console.enabled,
                complaints_per_ip_per_hour: r.console.complaints_per_ip_per_hour,
                logins_per_ip_per_15min: r.console.logins_per_ip_per_15min,
                session: Duration::from_secs(3600 * u64::from(r.console.session_hours)),
                idle: Duration::from_secs(60 * u64::from(r.console.idle_minutes)),
                max_failed_logins: r.console.max_failed_logins,
                lockout: Duration::from_secs(60 * u64::from(r.console.lockout_minutes)),
                secure_cookies,
                deadline_hours: [
                    r.console.deadlines.illegal_hours,
                    r.console.deadlines.risk_hours,
                    r.console.deadlines.rights_hours,
                    r.console.deadlines.personal_info_hours,
                    r.console.deadlines.other_hours,
                ],
            },
            media,
            retention: RetentionConfig {
                interaction: day * r.retention.interaction_days.min(100_000) as u32,
                records: day * r.retention.record_days.min(100_000) as u32,
                purge_interval: Duration::from_secs(3600 * r.retention.purge_interval_hours),
            },
        })
    }
}

fn validate_media(
    r: &crate::RawMedia,
    base: Option<&Path>,
    data_dir: &Path,
    issues: &mut Issues,
) -> crate::MediaConfig {
    use crate::{AudioCue, ImageCorner};
    let image_corner = match r.image_corner.as_str() {
        "top-left" => ImageCorner::TopLeft,
        "top-right" => ImageCorner::TopRight,
        "bottom-left" => ImageCorner::BottomLeft,
        "bottom-right" => ImageCorner::BottomRight,
        other => {
            issues.push(
                "media.image_corner",
                format!("{other:?} is not one of \"top-left\", \"top-right\", \"bottom-left\", \"bottom-right\""),
            );
            ImageCorner::BottomRight
        }
    };
    let audio_cue = match r.audio_cue.as_str() {
        "start" => AudioCue::Start,
        "end" => AudioCue::End,
        "both" => AudioCue::Both,
        other => {
            issues.push(
                "media.audio_cue",
                format!("{other:?} is not one of \"start\", \"end\", \"both\""),
            );
            AudioCue::Start
        }
    };
    let t = r.explicit_text.trim();
    if t.is_empty() || t.contains(['\n', '\r']) {
        issues.push(
            "media.explicit_text",
            "must be one non-empty line, e.g. \"AI生成\"",
        );
    } else if !((t.contains("人工智能") || t.contains("AI"))
        && (t.contains("生成") || t.contains("合成")))
    {
        issues.push(
            "media.explicit_text",
            format!("{t:?} lacks what GB 45438 requires: an AI element (\"人工智能\" or \"AI\") and a generation element (\"生成\" or \"合成\"), e.g. \"AI生成\""),
        );
    }
    let file = |v: &str, default: &str| {
        if v.is_empty() {
            data_dir.join(default)
        } else {
            RawConfig::resolve(base, v)
        }
    };
    crate::MediaConfig {
        images: r.images,
        audio: r.audio,
        explicit_text: t.to_string(),
        image_corner,
        watermark: r.watermark,
        watermark_key_file: file(&r.watermark_key_file, "watermark.key"),
        label_signing_key_file: file(&r.label_signing_key_file, "label-signing.key"),
        audio_cue,
    }
}

/// Parses `HH:MM-HH:MM` into minutes after midnight.
fn parse_quiet_hours(s: &str) -> Option<(u16, u16)> {
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = s.split_once('-')?;
    let (a, b) = (minute(a)?, minute(b)?);
    (a != b).then_some((a, b))
}

fn validate_identity(
    r: &crate::RawIdentity,
    base: Option<&Path>,
    data_dir: &Path,
    production: bool,
    issues: &mut Issues,
) -> IdentityConfig {
    let level = match (&r.level, r.require_verification) {
        (Some(l), _) => VerificationLevel::parse(l).unwrap_or_else(|| {
            issues.push(
                "identity.level",
                format!("{l:?} is not one of \"none\", \"phone\", \"id\", \"phone+id\""),
            );
            VerificationLevel {
                phone: true,
                id: true,
            }
        }),
        (None, Some(false)) => VerificationLevel {
            phone: false,
            id: false,
        },
        (None, _) => VerificationLevel {
            phone: true,
            id: true,
        },
    };
    if production && !level.phone && !level.id {
        issues.push(
            "identity.level",
            "\"none\" is refused in production: Article 12 requires real-name verification before service",
        );
    }
    let otp = &r.otp;
    if !(60..=900).contains(&otp.ttl_secs) {
        issues.push(
            "identity.otp.ttl_secs",
            "must be between 60 and 900 seconds (5 minutes is usual)",
        );
    }
    if !(1..=10).contains(&otp.max_attempts) {
        issues.push("identity.otp.max_attempts", "must be between 1 and 10");
    }
    if otp.resend_after_secs < 30 {
        issues.push(
            "identity.otp.resend_after_secs",
            "must be at least 30 seconds",
        );
    }
    if otp.per_phone_per_hour == 0 || otp.per_ip_per_hour == 0 {
        issues.push(
            "identity.otp",
            "per_phone_per_hour and per_ip_per_hour must be at least 1",
        );
    }
    if let Err(e) = hegui_identity::providers::build_sms(&r.sms, production) {
        issues.push("identity.sms", e.to_string());
    }
    if let Some(a) = &r.authority {
        if let Err(e) = hegui_identity::providers::build_authority(a) {
            issues.push("identity.authority", e.to_string());
        }
    }
    let pi_key_file = if r.pi_key_file.is_empty() {
        data_dir.join("pi-keys.toml")
    } else {
        RawConfig::resolve(base, &r.pi_key_file)
    };
    let consent_text = if r.consent.text_file.is_empty() {
        hegui_identity::service::DEFAULT_CONSENT_TEXT.to_string()
    } else {
        let path = RawConfig::resolve(base, &r.consent.text_file);
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => t,
            Ok(_) => {
                issues.push(
                    "identity.consent.text_file",
                    format!("{} is empty", path.display()),
                );
                String::new()
            }
            Err(e) => {
                issues.push(
                    "identity.consent.text_file",
                    format!("cannot read {}: {e}", path.display()),
                );
                String::new()
            }
        }
    };
    if r.consent.version.trim().is_empty() {
        issues.push("identity.consent.version", "must not be empty");
    }
    let quiet_hours = if r.minors.quiet_hours.trim().is_empty() {
        None
    } else {
        let q = parse_quiet_hours(&r.minors.quiet_hours);
        if q.is_none() {
            issues.push(
                "identity.minors.quiet_hours",
                format!(
                    "{:?} is not HH:MM-HH:MM (e.g. \"22:00-08:00\"); leave it empty for none",
                    r.minors.quiet_hours
                ),
            );
        }
        q
    };
    let client_ip_header = Some(r.client_ip_header.trim().to_string()).filter(|h| !h.is_empty());
    if let Some(h) = &client_ip_header {
        if !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            issues.push(
                "identity.client_ip_header",
                format!("{h:?} is not a header name"),
            );
        }
    }
    IdentityConfig {
        level,
        verify_url: r.verify_url.clone(),
        key_cache_ttl: Duration::from_millis(r.key_cache_ms),
        open_registration: r.open_registration,
        register_per_ip_per_hour: r.register_per_ip_per_hour,
        client_ip_header,
        pi_key_file,
        pi_key_generate: !production,
        store_id_number: r.store_id_number,
        id_checks_per_day: r.id_checks_per_day,
        sms: r.sms.clone(),
        authority: r.authority.clone(),
        otp: hegui_identity::service::OtpPolicy {
            ttl: Duration::from_secs(otp.ttl_secs),
            max_attempts: otp.max_attempts,
            resend_after: Duration::from_secs(otp.resend_after_secs),
            per_phone_per_hour: otp.per_phone_per_hour,
            per_ip_per_hour: otp.per_ip_per_hour,
        },
        consent_version: r.consent.version.trim().to_string(),
        consent_text,
        minors: MinorsConfig {
            daily_requests: r.minors.daily_requests,
            quiet_hours,
            block_flagged: r.minors.block_flagged,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Vec<Issue> {
        match RawConfig::parse(text).expect("parses").validate(None) {
            Err(ConfigError::Invalid(v)) => v,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn review_policy_problems_are_listed_with_their_keys() {
        let v = issues(
            r#"
[[review.policy]]
risk = "A9"
severity = "extreme"
stage = "both"
action = "delete"
[[review.policy]]
risk = "PII"
action = "mask"
[[review.safe_answers]]
risk = "A1-99"
text = " "
[review.classifier]
model = "missing.hgc"
[[review.guards]]
kind = "qwen3guard"
base_url = "not a url"
model = ""
"#,
        );
        let keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        for want in [
            "review.policy[0].risk",
            "review.policy[0].severity",
            "review.policy[0].stage",
            "review.policy[0].action",
            "review.safe_answers[0].risk",
            "review.safe_answers[0].text",
            "review.classifier.model",
        ] {
            assert!(keys.contains(&want), "{want} missing from {keys:?}");
        }
        assert!(
            !keys.iter().any(|k| k.starts_with("review.policy[1]")),
            "{keys:?}"
        );
        assert!(
            keys.iter().any(|k| k.starts_with("review.guards[0].")),
            "{keys:?}"
        );
        let risk = v.iter().find(|i| i.key == "review.policy[0].risk").unwrap();
        assert!(risk.message.contains("A1..A5"), "{}", risk.message);
    }

    #[test]
    fn media_settings_are_checked_with_their_keys() {
        let c = RawConfig::default().validate(None).expect("defaults valid");
        assert!(c.media.images && c.media.audio && c.media.watermark);
        assert_eq!(c.media.image_corner, crate::ImageCorner::BottomRight);
        assert_eq!(c.media.audio_cue, crate::AudioCue::Start);
        assert!(c
            .media
            .watermark_key_file
            .ends_with("hegui-data/watermark.key"));
        assert!(c
            .media
            .label_signing_key_file
            .ends_with("hegui-data/label-signing.key"));
        let raw = RawConfig::parse(
            "[media]\nexplicit_text = \"generated\"\nimage_corner = \"middle\"\naudio_cue = \"never\"\n",
        )
        .unwrap();
        let Err(ConfigError::Invalid(v)) = raw.validate(None) else {
            panic!("invalid media settings accepted");
        };
        let keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        for want in [
            "media.explicit_text",
            "media.image_corner",
            "media.audio_cue",
        ] {
            assert!(keys.contains(&want), "{want} missing from {keys:?}");
        }
        assert!(RawConfig::parse("[media]\nvideo = true\n").is_err());
        let ok = RawConfig::parse("[media]\nimage_corner = \"top-left\"\naudio_cue = \"both\"\nwatermark_key_file = \"/k/wm\"\n")
            .unwrap()
            .validate(None)
            .unwrap();
        assert_eq!(ok.media.image_corner, crate::ImageCorner::TopLeft);
        assert_eq!(ok.media.audio_cue, crate::AudioCue::Both);
        assert_eq!(
            ok.media.watermark_key_file,
            std::path::PathBuf::from("/k/wm")
        );
    }

    #[test]
    fn no_file_gives_a_working_sqlite_config() {
        let c = RawConfig::default()
            .validate(None)
            .expect("defaults are valid");
        assert!(c.storage.database_url.starts_with("sqlite://"));
        assert!(c.storage.database_url.ends_with("hegui-data/hegui.db"));
        assert_eq!(c.server.listen.port(), 8080);
        assert_eq!(
            c.identity.level,
            VerificationLevel {
                phone: true,
                id: true
            }
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_table_and_line() {
        let (key, msg) = RawConfig::parse("[upstream]\nbase_url = \"http://x/v1\"\ntimeout = 3\n")
            .expect_err("unknown key");
        assert!(key.contains("upstream"), "key {key}");
        assert!(msg.contains("unknown field `timeout`"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn every_problem_of_structure_is_listed_in_file_order_with_its_line() {
        let text = "[server]\nlisten = 5\nlisen = \"x\"\n[retention]\ninteraction_days = \"ten\"\n[upstream]\nbase_url = \"http://x/v1\"\n[[models]]\nname = \"a\"\nupstream = [1]\n";
        let found = RawConfig::parse_all(text).expect("readable");
        let got: Vec<(&str, &str)> = found
            .problems
            .iter()
            .map(|(k, m)| (k.as_str(), m.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].0, "server.listen");
        assert!(got[0].1.ends_with("(line 2)"), "{got:?}");
        assert_eq!(got[1].0, "server.lisen");
        assert!(got[1].1.contains("unknown field `lisen`") && got[1].1.ends_with("(line 3)"));
        assert_eq!(got[2].0, "retention.interaction_days");
        assert!(got[2].1.ends_with("(line 5)"), "{got:?}");
        assert_eq!(got[3].0, "models[0].upstream");
        assert!(got[3].1.ends_with("(line 10)"), "{got:?}");
        // A text without problems has none; a syntax error is the one problem.
        assert!(RawConfig::parse_all("[server]\nlisten = \"127.0.0.1:1\"\n")
            .expect("fine")
            .problems
            .is_empty());
        let (key, msg) = RawConfig::parse_all("[server\n").expect_err("syntax");
        assert_eq!(key, "(file)");
        assert!(msg.contains("line 1"), "{msg}");
        // What only the text parser refuses (a date for a text) is listed too.
        let found =
            RawConfig::parse_all("[label]\ncontent_producer = 2024-05-01\n[server]\nlisen = 1\n")
                .expect("readable");
        let keys: Vec<&str> = found.problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["label.content_producer", "server.lisen"],
            "{found:?}"
        );
    }

    #[test]
    fn a_bad_array_element_leaves_its_array_out_and_the_rest_is_read() {
        let text = "[[models]]\nnme = \"b\"\n[[models]]\nname = 7\n[server]\nlisen = 1\n";
        let found = RawConfig::parse_all(text).expect("readable");
        let keys: Vec<&str> = found.problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["models[0]", "models[0].nme", "server.lisen"],
            "{found:?}"
        );
        assert!(found.problems[0].1.contains("missing field `name`"));
        assert!(found.problems[0].1.ends_with("(line 1)"), "{found:?}");
        assert_eq!(found.left_out, ["models[0].nme", "models", "server.lisen"]);
        assert!(found.rest.expect("read to the end").models.is_empty());
    }

    #[test]
    fn load_lists_problems_of_structure_then_of_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hegui.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"nowhere\"\nlisen = 1\n[retention]\ninteraction_days = 10\n[storage]\ndata_dir = 3\n",
        )
        .unwrap();
        let Err(ConfigError::Invalid(issues)) = Config::load(Some(&path)) else {
            panic!("expected a list of problems");
        };
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.lisen",
                "storage.data_dir",
                "server.listen",
                "retention.interaction_days"
            ],
            "{issues:?}"
        );
        // A key left out is not then checked again as its default: `lexicons` has the wrong
        // type, and is not also reported empty.
        std::fs::write(
            &path,
            "[review]\ndemo_lexicon = false\nlexicons = \"rules.txt\"\n[server]\nlisten = \"x\"\n",
        )
        .unwrap();
        let Err(ConfigError::Invalid(issues)) = Config::load(Some(&path)) else {
            panic!("expected a list of problems");
        };
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["review.lexicons", "server.listen"], "{issues:?}");
        assert!(issues[0].message.contains("invalid type"), "{issues:?}");
        // One problem of structure alone is reported as before, with the file's name.
        std::fs::write(&path, "[server]\nlisen = 1\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("hegui.toml: server.lisen: unknown field `lisen`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let (key, msg) =
            RawConfig::parse("[server]\nmax_body_bytes = \"big\"\n").expect_err("type");
        assert_eq!(key, "server.max_body_bytes");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let v = issues(
            r#"
[server]
listen = "localhost"
[upstream]
base_url = "ftp://x"
idle_timeout_ms = 0
[[models]]
name = "a"
[[models]]
name = "a"
[review]
on_block = "shrug"
[label]
explicit_text = "hello"
content_producer = "有 空格"
[retention]
interaction_days = 90
"#,
        );
        let keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "server.listen",
                "upstream.base_url",
                "upstream.idle_timeout_ms",
                "models[1].name",
                "review.on_block",
                "label.explicit_text",
                "label.content_producer",
                "ledger.origin",
                "retention.interaction_days"
            ]
        );
    }

    #[test]
    fn identity_settings_are_checked() {
        let problems = |text: &str| -> Vec<String> {
            let raw: RawConfig = toml::from_str(text).expect("parses");
            match raw.validate(None) {
                Ok(_) => Vec::new(),
                Err(ConfigError::Invalid(v)) => v.into_iter().map(|i| i.key).collect(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            problems("[identity]\nlevel = \"email\"\n[identity.minors]\nquiet_hours = \"22-08\"\n[identity.otp]\nmax_attempts = 50\n"),
            vec!["identity.level", "identity.otp.max_attempts", "identity.minors.quiet_hours"]
        );
        // Production refuses the console sender and the "none" level.
        assert_eq!(
            problems("[server]\nenvironment = \"production\"\n[identity]\nlevel = \"none\"\n"),
            vec!["identity.level", "identity.sms"]
        );
        // A template with an unknown placeholder is caught at load time.
        let p = problems(
            "[identity.sms]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/send\"\nbody = { to = \"{{phone}}\", code = \"{{code}}\", x = \"{{oops}}\" }\n",
        );
        assert_eq!(p, vec!["identity.sms"]);
        let raw: RawConfig =
            toml::from_str("[identity]\nrequire_verification = false\n").expect("parses");
        let c = raw.validate(None).expect("valid");
        assert_eq!(
            c.identity.level,
            VerificationLevel {
                phone: false,
                id: false
            }
        );
        let c = RawConfig::default().validate(None).expect("valid");
        assert!(c.identity.minors.is_quiet(23 * 60) && c.identity.minors.is_quiet(7 * 60));
        assert!(!c.identity.minors.is_quiet(12 * 60));
    }

    #[test]
    fn environment_overrides_secrets() {
        let mut r = RawConfig::default();
        r.apply_env(|k| (k == "HEGUI_UPSTREAM_API_KEY").then(|| "sk-test".to_string()));
        let c = r.validate(None).expect("valid");
        assert_eq!(c.upstream.api_key.as_deref(), Some("sk-test"));
    }

    #[test]
    fn relative_lexicon_paths_resolve_against_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("lex.toml"), "").expect("write");
        let mut r = RawConfig::default();
        r.review.lexicons = vec!["lex.toml".into()];
        let c = r.validate(Some(dir.path())).expect("valid");
        assert_eq!(c.review.lexicons[0], dir.path().join("lex.toml"));
        let mut r = RawConfig::default();
        r.review.lexicons = vec!["missing.toml".into()];
        assert!(r.validate(Some(dir.path())).is_err());
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The documented example must stay a valid configuration that equals the defaults.
    #[test]
    fn example_config_is_valid_and_matches_the_defaults() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hegui.example.toml");
        let raw = RawConfig::from_file(&path).expect("example parses");
        let c = raw.validate(None).expect("example is valid");
        let d = RawConfig::default().validate(None).expect("defaults valid");
        assert_eq!(format!("{:?}", c.server), format!("{:?}", d.server));
        assert_eq!(format!("{:?}", c.upstream), format!("{:?}", d.upstream));
        assert_eq!(format!("{:?}", c.review), format!("{:?}", d.review));
        assert_eq!(format!("{:?}", c.label), format!("{:?}", d.label));
        assert_eq!(format!("{:?}", c.media), format!("{:?}", d.media));
        assert_eq!(c.storage.database_url, d.storage.database_url);
    }
}
