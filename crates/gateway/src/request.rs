//! Parsing and checking the chat request body, and locating the text that input review reads.

use hegui_types::{Action, MatchInfo};
use serde_json::{Map, Value};

use crate::error::ApiError;

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// A chat request that passed structural checks.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The whole body, kept so unknown parameters pass through to the model server.
    pub body: Map<String, Value>,
    /// `model`.
    pub model: String,
    /// `stream`.
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

impl ChatRequest {
    /// Parses and checks a body; errors say which parameter is wrong and how.
    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(
                "invalid_json",
                format!("The request body is not valid JSON ({e}); send a JSON object with `model` and `messages`"),
            )
        })?;
        let Value::Object(body) = value else {
            return Err(ApiError::bad_request(
                "invalid_request",
                "The request body must be a JSON object with `model` and `messages`",
            ));
        };
        let param = |p: &'static str, msg: String| {
            let mut e = ApiError::bad_request("invalid_request", msg);
            e.param = Some(p);
            e
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            Some(_) => return Err(param("model", "`model` must be a non-empty string".into())),
            None => return Err(param("model", "missing required parameter `model`".into())),
        };
        let messages = match body.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => m,
            Some(Value::Array(_)) => {
                return Err(param(
                    "messages",
                    "`messages` must contain at least one message".into(),
                ))
            }
            Some(_) => {
                return Err(param(
                    "messages",
                    "`messages` must be an array of messages".into(),
                ))
            }
            None => {
                return Err(param(
                    "messages",
                    "missing required parameter `messages`".into(),
                ))
            }
        };
        for (i, m) in messages.iter().enumerate() {
            let Value::Object(m) = m else {
                return Err(param(
                    "messages",
                    format!("messages[{i}] must be an object with `role` and `content`"),
                ));
            };
            match m.get("role") {
                Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
                _ => {
                    return Err(param(
                        "messages",
                        format!("messages[{i}].role must be one of {}", ROLES.join(", ")),
                    ))
                }
            }
            match m.get("content") {
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        let ok = p.get("type").and_then(Value::as_str).is_some()
                            && (p.get("type").and_then(Value::as_str) != Some("text")
                                || p.get("text").map(Value::is_string).unwrap_or(false));
                        if !ok {
                            return Err(param(
                                "messages",
                                format!("messages[{i}].content[{j}] must be a part with `type` (and `text` for text parts)"),
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(param(
                        "messages",
                        format!(
                            "messages[{i}].content must be a string or an array of content parts"
                        ),
                    ))
                }
            }
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(param("stream", "`stream` must be true or false".into())),
        };
        let include_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => match o.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(param(
                        "stream_options",
                        "`stream_options.include_usage` must be true or false".into(),
                    ))
                }
            },
            Some(_) => {
                return Err(param(
                    "stream_options",
                    "`stream_options` must be an object".into(),
                ))
            }
        };
        if include_usage && !stream {
            return Err(param(
                "stream_options",
                "`stream_options` is only allowed when `stream` is true".into(),
            ));
        }
        Ok(ChatRequest {
            body,
            model,
            stream,
            include_usage,
        })
    }

    /// The `messages` array (checked in `parse`).
    pub fn messages(&self) -> Value {
        self.body.get("messages").cloned().unwrap_or(Value::Null)
    }
}

/// Where a piece of reviewed text lives in the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    message: usize,
    part: Option<usize>,
    start: usize,
    end: usize,
}

/// The text of every message joined with newlines, and where each piece came from.
#[derive(Debug, Clone)]
pub struct PromptText {
    /// The joined text that input review reads.
    pub text: String,
    segments: Vec<Segment>,
}

impl PromptText {
    /// Collects the text of every message (string content and text parts).
    pub fn collect(messages: &Value) -> PromptText {
        let mut text = String::new();
        let mut segments = Vec::new();
        let mut push = |s: &str, message, part| {
            if !text.is_empty() {
                text.push('\n');
            }
            let start = text.len();
            text.push_str(s);
            segments.push(Segment {
                message,
                part,
                start,
                end: text.len(),
            });
        };
        for (i, m) in messages
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            match m.get("content") {
                Some(Value::String(s)) => push(s, i, None),
                Some(Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        if let Some(t) = p.get("text").and_then(Value::as_str) {
                            push(t, i, Some(j));
                        }
                    }
                }
                _ => {}
            }
        }
        PromptText { text, segments }
    }

    /// Applies mask matches to the messages in place: every char inside a masked span becomes `*`.
    pub fn apply_masks(&self, messages: &mut Value, matches: &[MatchInfo]) {
        let masks: Vec<&MatchInfo> = matches
            .iter()
            .filter(|m| m.action == Action::Mask)
            .collect();
        if masks.is_empty() {
            return;
        }
        for seg in &self.segments {
            let original = &self.text[seg.start..seg.end];
            let masked: String = original
                .char_indices()
                .map(|(off, c)| {
                    let at = seg.start + off;
                    if masks.iter().any(|m| m.start <= at && at < m.end) {
                        '*'
                    } else {
                        c
                    }
                })
                .collect();
            if masked == original {
                continue;
            }
            let slot = match seg.part {
                None => messages.pointer_mut(&format!("/{}/content", seg.message)),
                Some(p) => messages.pointer_mut(&format!("/{}/content/{}/text", seg.message, p)),
            };
            if let Some(slot) = slot {
                *slot = Value::String(masked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_bodies_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("{", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"messages":[]}"#, "missing required parameter `model`"),
            (r#"{"model":"m"}"#, "missing required parameter `messages`"),
            (r#"{"model":"m","messages":[]}"#, "at least one message"),
            (
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                "messages[0].content",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
                "`stream`",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#,
                "only allowed when `stream` is true",
            ),
        ];
        for (body, expect) in cases {
            let e = ChatRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(expect), "{body}: {}", e.message);
        }
    }

    #[test]
    fn unknown_parameters_pass_through() {
        let r = ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(r.stream && r.include_usage);
        assert_eq!(r.body["temperature"], 0.2);
    }

    #[test]
    fn masks_map_back_to_the_right_message_and_part() {
        let mut messages = serde_json::json!([
            {"role": "system", "content": "规则"},
            {"role": "user", "content": [{"type": "text", "text": "你是傻冒吗"}, {"type": "image_url", "image_url": {"url": "x"}}]},
        ]);
        let p = PromptText::collect(&messages);
        assert_eq!(p.text, "规则\n你是傻冒吗");
        let start = p.text.find("傻冒").unwrap();
        let m = MatchInfo::new("d:1", "A2-9", Action::Mask, start, start + "傻冒".len());
        p.apply_masks(&mut messages, &[m]);
        assert_eq!(messages[1]["content"][0]["text"], "你是**吗");
        assert_eq!(messages[0]["content"], "规则");
    }
}
