//! Request templates for the HTTP adapters.
//!
//! Two kinds of substitution exist:
//!
//! * `${env:NAME}` is replaced by the environment variable `NAME` once, when the adapter is
//!   built (in `url`, header values and `body` strings). A missing variable is a
//!   [`ProviderError::Config`] naming it.
//! * `{{placeholder}}` is replaced per request, and only inside string leaves of `body`. The
//!   set of placeholders is fixed per adapter (`{{phone}}`/`{{code}}` for SMS,
//!   `{{name}}`/`{{id_number}}` for the authority); anything else is a build-time
//!   [`ProviderError::Config`]. Because substitution happens in string leaves of a structured
//!   value, the result is escaped by the JSON / form encoder, never spliced into raw text, and a
//!   leaf that is exactly `"{{code}}"` stays a string (leading zeros survive).
//!
//! Values coming from the environment are literal: a `{{...}}` inside them is not expanded.

use std::fmt;

use serde_json::{Map, Value};

use super::{BodyFormat, ProviderError};

/// Environment lookup used at build time (`std::env::var` in production).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Looks variables up in the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Clone, PartialEq, Eq)]
enum Segment {
    Lit(String),
    /// Index into the template's placeholder list.
    Var(usize),
}

#[derive(Clone)]
enum Node {
    /// A non-string leaf (number, bool, null), sent as is.
    Fixed(Value),
    Str(Vec<Segment>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A request body rendered for one request.
#[derive(Clone, PartialEq)]
pub enum RenderedBody {
    /// Sent as `application/json`.
    Json(Value),
    /// Sent as `application/x-www-form-urlencoded`, fields in configuration order.
    Form(Vec<(String, String)>),
}

// Rendered bodies carry personal information: never print their content.
impl fmt::Debug for RenderedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(_) => f.write_str("RenderedBody::Json(<redacted>)"),
            Self::Form(fields) => {
                write!(f, "RenderedBody::Form(<{} redacted fields>)", fields.len())
            }
        }
    }
}

/// A compiled `body` template.
#[derive(Clone)]
pub struct BodyTemplate {
    format: BodyFormat,
    placeholders: &'static [&'static str],
    root: Node,
}

// The template may hold secrets resolved from `${env:...}`: show only its shape.
impl fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyTemplate")
            .field("format", &self.format)
            .field("placeholders", &self.placeholders)
            .finish_non_exhaustive()
    }
}

impl BodyTemplate {
    /// Compile `body` for `format`. `placeholders` lists the allowed `{{...}}` names; every one
    /// of them must be used somewhere in the body (otherwise the request could never carry it).
    /// `provider` only serves error messages.
    pub fn compile(
        body: &Value,
        format: BodyFormat,
        placeholders: &'static [&'static str],
        env: EnvLookup<'_>,
        provider: &str,
    ) -> Result<Self, ProviderError> {
        let cx = Cx {
            placeholders,
            env,
            provider,
        };
        let root = cx.node(body, "body")?;
        if format == BodyFormat::Form {
            let flat = match &root {
                Node::Object(fields) => fields.iter().all(|(_, n)| matches!(n, Node::Str(_))),
                _ => false,
            };
            if !flat {
                return Err(ProviderError::Config(format!(
                    "identity provider `{provider}`: with `body_format = \"form\"` the `body` must \
                     be a flat table of strings (e.g. `body = {{ to = \"{{{{phone}}}}\" }}`); \
                     use `body_format = \"json\"` for nested or non-string values"
                )));
            }
        }
        let template = Self {
            format,
            placeholders,
            root,
        };
        for (index, name) in placeholders.iter().enumerate() {
            if !template.root.uses(index) {
                return Err(ProviderError::Config(format!(
                    "identity provider `{provider}`: `body` never uses `{{{{{name}}}}}`, so the \
                     request could not carry it; add it to `body`"
                )));
            }
        }
        Ok(template)
    }

    /// The body format this template renders to.
    pub fn format(&self) -> BodyFormat {
        self.format
    }

    /// Render with `values`, given in the order of the placeholder list passed to `compile`.
    /// A missing value renders as the empty string.
    pub fn render(&self, values: &[&str]) -> RenderedBody {
        match (self.format, &self.root) {
            (BodyFormat::Form, Node::Object(fields)) => RenderedBody::Form(
                fields
                    .iter()
                    .map(|(key, node)| match node.render(values) {
                        Value::String(s) => (key.clone(), s),
                        other => (key.clone(), other.to_string()),
                    })
                    .collect(),
            ),
            // `compile` guarantees a form template is a flat object; render JSON otherwise.
            _ => RenderedBody::Json(self.root.render(values)),
        }
    }
}

impl Node {
    fn uses(&self, index: usize) -> bool {
        match self {
            Node::Fixed(_) => false,
            Node::Str(segments) => segments.contains(&Segment::Var(index)),
            Node::Array(items) => items.iter().any(|n| n.uses(index)),
            Node::Object(fields) => fields.iter().any(|(_, n)| n.uses(index)),
        }
    }

    fn render(&self, values: &[&str]) -> Value {
        match self {
            Node::Fixed(v) => v.clone(),
            Node::Str(segments) => {
                let mut out = String::new();
                for segment in segments {
                    match segment {
                        Segment::Lit(text) => out.push_str(text),
                        Segment::Var(i) => out.push_str(values.get(*i).copied().unwrap_or("")),
                    }
                }
                Value::String(out)
            }
            Node::Array(items) => Value::Array(items.iter().map(|n| n.render(values)).collect()),
            Node::Object(fields) => {
                let mut map = Map::new();
                for (key, node) in fields {
                    map.insert(key.clone(), node.render(values));
                }
                Value::Object(map)
            }
        }
    }
}

struct Cx<'a> {
    placeholders: &'static [&'static str],
    env: EnvLookup<'a>,
    provider: &'a str,
}

impl Cx<'_> {
    fn node(&self, value: &Value, path: &str) -> Result<Node, ProviderError> {
        Ok(match value {
            Value::String(s) => {
                Node::Str(parse(s, path, self.placeholders, self.env, self.provider)?)
            }
            Value::Array(items) => Node::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.node(v, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, v) in map {
                    if key.contains("{{") || key.contains("${env:") {
                        return Err(ProviderError::Config(format!(
                            "identity provider `{}`: key `{key}` in `{path}` contains a \
                             placeholder, but placeholders are substituted only in values; \
                             move it into a value",
                            self.provider
                        )));
                    }
                    fields.push((key.clone(), self.node(v, &format!("{path}.{key}"))?));
                }
                Node::Object(fields)
            }
            other => Node::Fixed(other.clone()),
        })
    }
}

/// Substitute `${env:NAME}` in a configuration string that takes no `{{...}}` placeholders
/// (`url`, header values). `field` names it in error messages.
pub fn substitute_env(
    text: &str,
    field: &str,
    env: EnvLookup<'_>,
    provider: &str,
) -> Result<String, ProviderError> {
    let segments = parse(text, field, &[], env, provider)?;
    Ok(segments
        .into_iter()
        .map(|s| match s {
            Segment::Lit(text) => text,
            Segment::Var(_) => String::new(),
        })
        .collect())
}

fn parse(
    text: &str,
    field: &str,
    placeholders: &'static [&'static str],
    env: EnvLookup<'_>,
    provider: &str,
) -> Result<Vec<Segment>, ProviderError> {
    const ENV_OPEN: &str = "${env:";
    let config =
        |msg: String| ProviderError::Config(format!("identity provider `{provider}`: {msg}"));
    let mut segments = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    loop {
        // The earliest of `{{` and `${env:`; `true` for a placeholder.
        let next = match (rest.find("{{"), rest.find(ENV_OPEN)) {
            (None, None) => None,
            (Some(v), Some(e)) if e < v => Some((e, false)),
            (Some(v), _) => Some((v, true)),
            (None, Some(e)) => Some((e, false)),
        };
        let Some((at, is_placeholder)) = next else {
            lit.push_str(rest);
            break;
        };
        lit.push_str(&rest[..at]);
        if is_placeholder {
            let after = &rest[at + 2..];
            let Some(end) = after.find("}}") else {
                return Err(config(format!(
                    "unterminated `{{{{` in `{field}`; write placeholders as `{{{{name}}}}`"
                )));
            };
            let name = after[..end].trim();
            let Some(index) = placeholders.iter().position(|p| *p == name) else {
                let allowed = if placeholders.is_empty() {
                    "none here: placeholders are substituted only in `body`".to_owned()
                } else {
                    placeholders
                        .iter()
                        .map(|p| format!("{{{{{p}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(config(format!(
                    "unknown placeholder `{{{{{name}}}}}` in `{field}`; allowed: {allowed}"
                )));
            };
            if !lit.is_empty() {
                segments.push(Segment::Lit(std::mem::take(&mut lit)));
            }
            segments.push(Segment::Var(index));
            rest = &after[end + 2..];
        } else {
            let after = &rest[at + ENV_OPEN.len()..];
            let Some(end) = after.find('}') else {
                return Err(config(format!(
                    "unterminated `${{env:` in `{field}`; write `${{env:NAME}}`"
                )));
            };
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(config(format!(
                    "`${{env:{name}}}` in `{field}` is not a valid environment variable name; \
                     use letters, digits and `_` only"
                )));
            }
            let Some(value) = env(name) else {
                return Err(config(format!(
                    "environment variable `{name}` (used by `${{env:{name}}}` in `{field}`) is \
                     not set or is not valid UTF-8; set it before starting hegui or change the \
                     configuration"
                )));
            };
            lit.push_str(&value);
            rest = &after[end + 1..];
        }
    }
    if !lit.is_empty() || segments.is_empty() {
        segments.push(Segment::Lit(lit));
    }
    Ok(segments)
}
