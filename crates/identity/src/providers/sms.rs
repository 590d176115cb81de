//! SMS senders: the HTTP gateway adapter and the development console sender.

use async_trait::async_trait;

use super::{
    check_pointer, template, EndpointSpec, HttpEndpoint, HttpSmsConfig, ProviderError, SmsSender,
};

/// Placeholders of an SMS body, in the order values are passed to the template.
const PLACEHOLDERS: &[&str] = &["phone", "code"];

/// `138****5678`: the first 3 and last 4 characters of a phone number. Numbers too short to
/// keep anything hidden (fewer than 8 characters) become `****`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Development sender: prints one line per code to stderr and delivers nothing.
/// [`super::build_sms`] refuses it in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSms;

impl ConsoleSms {
    /// The line printed for a code, e.g.
    /// `hegui dev SMS to 138****5678: your verification code is 123456`.
    pub fn line(phone: &str, code: &str) -> String {
        format!(
            "hegui dev SMS to {}: your verification code is {code}",
            mask_phone(phone)
        )
    }
}

#[async_trait]
impl SmsSender for ConsoleSms {
    fn name(&self) -> &str {
        "console"
    }

    async fn send_code(&self, phone: &str, code: &str) -> Result<(), ProviderError> {
        eprintln!("{}", Self::line(phone, code));
        Ok(())
    }
}

/// SMS gateway reached over HTTP, configured by [`HttpSmsConfig`].
#[derive(Debug)]
pub struct HttpSms {
    endpoint: HttpEndpoint,
    /// `(success_pointer, success_value)`.
    success_check: Option<(String, String)>,
}

impl HttpSms {
    /// Validate the configuration and build the adapter (`${env:...}` resolved now).
    pub fn from_config(cfg: &HttpSmsConfig) -> Result<Self, ProviderError> {
        let endpoint = HttpEndpoint::build(
            EndpointSpec {
                name: &cfg.name,
                url: &cfg.url,
                method: cfg.method,
                timeout_ms: cfg.timeout_ms,
                headers: &cfg.headers,
                body_format: cfg.body_format,
                body: &cfg.body,
                success_status: cfg.success_status,
                placeholders: PLACEHOLDERS,
            },
            &template::process_env,
        )?;
        let success_check = match (&cfg.success_pointer, &cfg.success_value) {
            (None, None) => None,
            (Some(pointer), Some(value)) => {
                check_pointer(endpoint.name(), "success_pointer", pointer)?;
                Some((pointer.clone(), value.clone()))
            }
            _ => {
                return Err(ProviderError::Config(format!(
                    "identity provider `{}`: `success_pointer` and `success_value` go together; \
                     set both (e.g. `success_pointer = \"/Code\"`, `success_value = \"OK\"`) or \
                     neither",
                    endpoint.name()
                )))
            }
        };
        Ok(Self {
            endpoint,
            success_check,
        })
    }
}

#[async_trait]
impl SmsSender for HttpSms {
    fn name(&self) -> &str {
        self.endpoint.name()
    }

    async fn send_code(&self, phone: &str, code: &str) -> Result<(), ProviderError> {
        let result = self.send(phone, code).await;
        if let Err(err) = &result {
            // The error's Display carries no personal information by construction.
            tracing::warn!(provider = %self.name(), error = %err, "SMS sending failed");
        }
        result
    }
}

impl HttpSms {
    async fn send(&self, phone: &str, code: &str) -> Result<(), ProviderError> {
        let redact = [phone, code];
        let reply = self.endpoint.call(&[phone, code], &redact).await?;
        let Some((pointer, expected)) = &self.success_check else {
            return Ok(());
        };
        let doc = self.endpoint.json(&reply, &redact)?;
        let actual = self.endpoint.scalar_at(&doc, pointer, &redact)?;
        if actual == *expected {
            Ok(())
        } else {
            Err(ProviderError::Rejected {
                provider: self.name().to_owned(),
                status: reply.status,
                detail: format!(
                    "`{pointer}` is \"{}\", expected \"{expected}\"",
                    super::sanitize_excerpt(&actual, &redact)
                ),
            })
        }
    }
}
