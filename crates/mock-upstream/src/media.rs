//! `/v1/images/generations` (deterministic PNGs of the requested size, as `b64_json`) and
//! `/v1/audio/speech` (a short WAV tone; mp3, flac, opus and aac through ffmpeg when it is
//! installed, else 400; raw `pcm`). The prompt / input text takes the chat directives
//! `[[fault:status_500]]`, `[[fault:status_429]]`, `[[fault:malformed_sse]]` (a body that is
//! not JSON / not audio), `[[fault:bad_media]]` (b64 that is not an image, bytes that are not
//! audio) and `[[delay_ms:N]]`.

use std::io::{Cursor, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::{
    bad_request, error_response, json_response, model_not_found, now_secs, parse_directives,
    unauthorized, AppState, Fault, State,
};

/// Largest side of a generated image.
const MAX_SIDE: u32 = 4096;
/// Sample rate of generated speech (OpenAI's rate).
pub const SPEECH_RATE: u32 = 24_000;
/// Pitch of the generated tone (well away from the 880 Hz label cue).
const TONE_HZ: f32 = 330.0;

/// Checks auth and JSON, records the request; returns the body or the error response.
fn accept(state: &State, headers: &HeaderMap, body: &[u8]) -> Result<Value, Box<Response>> {
    let parsed = serde_json::from_slice::<Value>(body);
    if let Ok(v) = &parsed {
        state.record(v);
    }
    if !state.authorized(headers) {
        return Err(Box::new(unauthorized()));
    }
    let body = parsed.map_err(|_| {
        Box::new(bad_request(
            "We could not parse the JSON body of your request.",
        ))
    })?;
    if let Some(model) = body.get("model").and_then(Value::as_str) {
        if !state.model_allowed(model) {
            return Err(Box::new(model_not_found(model)));
        }
    }
    Ok(body)
}

/// Applies a fault directive that ends the request early.
async fn early_fault(fault: Option<Fault>, delay: Duration) -> Option<Response> {
    tokio::time::sleep(delay).await;
    match fault {
        Some(Fault::Status500) => Some(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        )),
        Some(Fault::Status429) => {
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests (mock upstream).",
                "requests",
                Some("rate_limit_exceeded"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Some(r)
        }
        Some(Fault::MalformedSse) => Some(json_response(
            StatusCode::OK,
            Bytes::from_static(b"{not json"),
        )),
        _ => None,
    }
}

/// `WxH`, each side 16..=4096.
fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    let (w, h) = (w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?);
    ((16..=MAX_SIDE).contains(&w) && (16..=MAX_SIDE).contains(&h)).then_some((w, h))
}

/// A deterministic, textured RGB picture for `prompt` and `index`, as PNG.
pub fn image_png(prompt: &str, index: u32, width: u32, height: u32) -> Vec<u8> {
    let seed = prompt
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
        .wrapping_add(index.wrapping_mul(0x9e37_79b9));
    let [s0, s1, s2, _] = seed.to_le_bytes();
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let fx = x as f32 / width.max(1) as f32;
        let fy = y as f32 / height.max(1) as f32;
        let wave = ((fx * 23.0 + f32::from(s0) / 40.0).sin() * (fy * 17.0).cos() * 60.0) as i32;
        let r = (f32::from(s0) * 0.5 + fx * 160.0) as i32 + wave;
        let g = (f32::from(s1) * 0.5 + fy * 160.0) as i32 - wave;
        let b = (f32::from(s2) * 0.5 + (fx + fy) * 80.0) as i32 + wave / 2;
        let c = |v: i32| v.clamp(0, 255) as u8;
        image::Rgb([c(r), c(g), c(b)])
    });
    let mut out = Vec::new();
    // Writing PNG to memory cannot fail for a valid RGB image; an empty body would be a
    // malformed answer the gateway refuses, which is what a test of it would see.
    let _ = image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

pub(crate) async fn images_handler(
    axum::extract::State(state): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match accept(&state, &headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(prompt) = body.get("prompt").and_then(Value::as_str) else {
        return bad_request("'prompt' is a required property");
    };
    let (directives, stripped) = match parse_directives(prompt) {
        Ok(p) => p,
        Err(m) => return bad_request(&m),
    };
    let delay = Duration::from_millis(directives.delay_ms.unwrap_or(0));
    if let Some(r) = early_fault(directives.fault, delay).await {
        return r;
    }
    let n = match body.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=10) => n as u32,
            _ => return bad_request("'n' must be an integer from 1 to 10"),
        },
    };
    let size = body
        .get("size")
        .and_then(Value::as_str)
        .unwrap_or("1024x1024");
    let Some((w, h)) = parse_size(size) else {
        return bad_request(&format!(
            "'{size}' is not a size the mock serves (WxH, sides 16..={MAX_SIDE})"
        ));
    };
    match body.get("response_format").and_then(Value::as_str) {
        None | Some("b64_json") => {}
        Some(other) => {
            return bad_request(&format!(
                "the mock upstream serves response_format b64_json only, not '{other}'"
            ))
        }
    }
    let bad = directives.fault == Some(Fault::BadMedia);
    let prompt = stripped;
    let data = tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|i| {
                let bytes = if bad {
                    b"this is not an image".to_vec()
                } else {
                    image_png(&prompt, i, w, h)
                };
                json!({
                    "b64_json": base64::engine::general_purpose::STANDARD.encode(bytes),
                    "revised_prompt": prompt,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let body = json!({
        "created": now_secs(),
        "data": data,
        "usage": {"input_tokens": 8, "output_tokens": 1056 * n, "total_tokens": 8 + 1056 * n},
    });
    json_response(StatusCode::OK, Bytes::from(body.to_string()))
}

/// Samples of a short tone for `text` (0.6 s + 20 ms per char, at most 3 s), 16-bit mono.
pub fn speech_samples(text: &str) -> Vec<i16> {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    let ms = (600 + chars.saturating_mul(20)).min(3000);
    let n = SPEECH_RATE * ms / 1000;
    (0..n)
        .map(|i| {
            let t = i as f32 / SPEECH_RATE as f32;
            let env = (t * 6.0 * std::f32::consts::PI).sin().abs() * 0.4 + 0.1;
            let v = (t * TONE_HZ * 2.0 * std::f32::consts::PI).sin() * env;
            (v * f32::from(i16::MAX)) as i16
        })
        .collect()
}

/// A RIFF WAVE file of 16-bit mono PCM samples.
pub fn wav_bytes(samples: &[i16], rate: u32) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Converts WAV to `format` with ffmpeg (stdin to stdout); an error without ffmpeg or on failure.
fn transcode(wav: Vec<u8>, format: &str) -> Result<Vec<u8>, String> {
    let (codec, muxer) = match format {
        "mp3" => ("libmp3lame", "mp3"),
        "flac" => ("flac", "flac"),
        "opus" => ("libopus", "ogg"),
        "aac" => ("aac", "adts"),
        other => return Err(format!("unknown format {other}")),
    };
    let mut child = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "wav",
            "-i",
            "pipe:0",
        ])
        .args(["-c:a", codec, "-f", muxer, "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("ffmpeg is not available ({e}); ask for response_format wav or pcm")
        })?;
    let mut stdin = child.stdin.take().ok_or("ffmpeg stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&wav));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "ffmpeg failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

pub(crate) async fn speech_handler(
    axum::extract::State(state): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match accept(&state, &headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(input) = body.get("input").and_then(Value::as_str) else {
        return bad_request("'input' is a required property");
    };
    if body.get("voice").is_none() {
        return bad_request("'voice' is a required property");
    }
    let (directives, stripped) = match parse_directives(input) {
        Ok(p) => p,
        Err(m) => return bad_request(&m),
    };
    let delay = Duration::from_millis(directives.delay_ms.unwrap_or(0));
    if let Some(r) = early_fault(directives.fault, delay).await {
        return r;
    }
    let format = body
        .get("response_format")
        .and_then(Value::as_str)
        .unwrap_or("mp3")
        .to_owned();
    let content_type = match format.as_str() {
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        other => return bad_request(&format!("'{other}' is not a supported response_format")),
    };
    if directives.fault == Some(Fault::BadMedia) {
        return audio_response(content_type, b"this is not audio".to_vec());
    }
    let result = tokio::task::spawn_blocking(move || {
        let samples = speech_samples(&stripped);
        match format.as_str() {
            "pcm" => Ok(samples.iter().flat_map(|s| s.to_le_bytes()).collect()),
            "wav" => Ok(wav_bytes(&samples, SPEECH_RATE)),
            other => transcode(wav_bytes(&samples, SPEECH_RATE), other),
        }
    })
    .await;
    match result {
        Ok(Ok(bytes)) => audio_response(content_type, bytes),
        Ok(Err(m)) => bad_request(&format!("mock upstream: {m}")),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("mock upstream: {e}"),
            "server_error",
            None,
        ),
    }
}

fn audio_response(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn images_are_deterministic_pngs_of_the_size_asked() {
        let a = image_png("cat", 0, 64, 32);
        assert_eq!(a, image_png("cat", 0, 64, 32));
        assert_ne!(a, image_png("cat", 1, 64, 32));
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), (64, 32));
        assert_eq!(parse_size("1024x768"), Some((1024, 768)));
        assert_eq!(parse_size("8x8"), None);
        assert_eq!(parse_size("big"), None);
    }

    #[test]
    fn speech_is_a_wav_of_the_right_length() {
        let s = speech_samples("hello");
        assert_eq!(s.len() as u32, SPEECH_RATE * 700 / 1000);
        let w = wav_bytes(&s, SPEECH_RATE);
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(&w[8..16], b"WAVEfmt ");
        assert_eq!(w.len(), 44 + s.len() * 2);
    }
}
