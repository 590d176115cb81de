//! The label payload as stored in carriers: `{"AIGC":{...}}` (GB 45438 Annex E).

use hegui_types::AigcLabel;
use serde_json::Value;

use crate::LabelError;

/// The JSON a writer stores: validated, compact, standard field order.
pub(crate) fn encode(label: &AigcLabel) -> Result<String, LabelError> {
    label.validate()?;
    Ok(label.to_payload())
}

/// Reads a payload. Accepts `{"AIGC":{...}}` (the standard) and a bare `{...}` object (seen in
/// the wild); ignores fields it does not know (e.g. the TC260 guide's optional `SecurityData`).
pub(crate) fn decode(text: &str) -> Result<AigcLabel, String> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = match &v {
        Value::Object(m) => match m.get("AIGC") {
            Some(Value::Object(inner)) => inner,
            Some(_) => return Err("\"AIGC\" is not an object".into()),
            None => m,
        },
        _ => return Err("not a JSON object".into()),
    };
    let field = |name: &str| -> Result<Option<String>, String> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // Some writers store Label as a number.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(format!("field {name} is not a string")),
        }
    };
    let label = field("Label")?.ok_or("field Label is missing")?;
    Ok(AigcLabel {
        label,
        content_producer: field("ContentProducer")?.unwrap_or_default(),
        produce_id: field("ProduceID")?.unwrap_or_default(),
        reserved_code1: field("ReservedCode1")?,
        content_propagator: field("ContentPropagator")?,
        propagate_id: field("PropagateID")?,
        reserved_code2: field("ReservedCode2")?,
    })
}

/// True when `text` looks like a label payload (for carriers shared with other data, such as
/// EXIF UserComment or a GIF comment).
pub(crate) fn looks_like(text: &str) -> bool {
    let t = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\0');
    t.starts_with('{') && t.contains("\"AIGC\"")
}
