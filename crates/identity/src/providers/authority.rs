//! Identity authority reached over HTTP.

use async_trait::async_trait;

use super::{
    check_pointer, template, AuthorityResult, EndpointSpec, HttpAuthorityConfig, HttpEndpoint,
    IdentityAuthority, ProviderError,
};

/// Placeholders of an authority body, in the order values are passed to the template.
const PLACEHOLDERS: &[&str] = &["name", "id_number"];

/// Identity verification service reached over HTTP, configured by [`HttpAuthorityConfig`].
///
/// The verdict at `result_pointer` must be one of `match_values` or `no_match_values`;
/// anything else is a [`ProviderError::BadResponse`], never a silent pass or no-match.
#[derive(Debug)]
pub struct HttpAuthority {
    endpoint: HttpEndpoint,
    result_pointer: String,
    match_values: Vec<String>,
    no_match_values: Vec<String>,
}

impl HttpAuthority {
    /// Validate the configuration and build the adapter (`${env:...}` resolved now).
    pub fn from_config(cfg: &HttpAuthorityConfig) -> Result<Self, ProviderError> {
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
        let name = endpoint.name();
        check_pointer(name, "result_pointer", &cfg.result_pointer)?;
        if cfg.match_values.is_empty() || cfg.no_match_values.is_empty() {
            return Err(ProviderError::Config(format!(
                "identity provider `{name}`: `match_values` and `no_match_values` must both list \
                 at least one value (e.g. `[\"match\"]` and `[\"no_match\"]`)"
            )));
        }
        if let Some(both) = cfg
            .match_values
            .iter()
            .find(|v| cfg.no_match_values.contains(v))
        {
            return Err(ProviderError::Config(format!(
                "identity provider `{name}`: \"{both}\" is in both `match_values` and \
                 `no_match_values`; keep it in one of them"
            )));
        }
        Ok(Self {
            result_pointer: cfg.result_pointer.clone(),
            match_values: cfg.match_values.clone(),
            no_match_values: cfg.no_match_values.clone(),
            endpoint,
        })
    }

    async fn ask(&self, name: &str, id_number: &str) -> Result<AuthorityResult, ProviderError> {
        let redact = [name, id_number];
        let reply = self.endpoint.call(&[name, id_number], &redact).await?;
        let doc = self.endpoint.json(&reply, &redact)?;
        let verdict = self
            .endpoint
            .scalar_at(&doc, &self.result_pointer, &redact)?;
        if self.match_values.contains(&verdict) {
            Ok(AuthorityResult::Match)
        } else if self.no_match_values.contains(&verdict) {
            Ok(AuthorityResult::NoMatch)
        } else {
            Err(ProviderError::BadResponse {
                provider: self.endpoint.name().to_owned(),
                detail: format!(
                    "`{}` is \"{}\", which is in neither `match_values` {:?} nor \
                     `no_match_values` {:?}",
                    self.result_pointer,
                    super::sanitize_excerpt(&verdict, &redact),
                    self.match_values,
                    self.no_match_values
                ),
            })
        }
    }
}

#[async_trait]
impl IdentityAuthority for HttpAuthority {
    fn name(&self) -> &str {
        self.endpoint.name()
    }

    async fn check(&self, name: &str, id_number: &str) -> Result<AuthorityResult, ProviderError> {
        let result = self.ask(name, id_number).await;
        match &result {
            Ok(verdict) => {
                tracing::debug!(provider = %self.name(), ?verdict, "identity authority answered");
            }
            // The error's Display carries no personal information by construction.
            Err(err) => {
                tracing::warn!(provider = %self.name(), error = %err, "identity check failed");
            }
        }
        result
    }
}
