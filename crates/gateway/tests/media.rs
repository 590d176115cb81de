//! `/v1/images/generations` and `/v1/audio/speech` through the real server in front of the
//! mock model server, on SQLite and (when configured) PostgreSQL: every image and audio file
//! leaves labeled (visible label, watermark, signed implicit label; audio cue), and every
//! request leaves exactly one record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::*;
use hegui_label::{Registry, Verdict};
use hegui_types::{AigcLabel, Outcome};
use serde_json::{json, Value};

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

impl Harness {
    fn images(&self, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/images/generations", self.base))
            .bearer_auth(&self.key)
            .json(&body)
    }

    fn speech(&self, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/audio/speech", self.base))
            .bearer_auth(&self.key)
            .json(&body)
    }
}

/// Mean absolute per-channel difference over a rectangle.
fn mean_diff(a: &image::RgbImage, b: &image::RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> f64 {
    let mut sum = 0u64;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            for c in 0..3 {
                sum += u64::from(p.0[c].abs_diff(q.0[c]));
            }
        }
    }
    sum as f64 / f64::from(w * h * 3)
}

async fn count(h: &Harness) -> i64 {
    h.store.count_records().await.unwrap()
}

#[tokio::test]
async fn images_leave_with_visible_label_watermark_and_signed_implicit_label() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        let prompt = "一只在雪地里的红色狐狸";
        let before = count(&h).await;
        let resp = h
            .images(json!({"model": "mock-small", "prompt": prompt, "n": 2, "size": "512x384"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let record_id = resp.headers()["x-hegui-record-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = resp.json().await.unwrap();
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(count(&h).await, before + 1, "exactly one record");

        // The model was asked for b64_json, with the prompt as given.
        let sent = h.mock.requests().pop().unwrap();
        assert_eq!(sent["response_format"], "b64_json");
        assert_eq!(sent["prompt"], prompt);

        let registry = Registry::new();
        let png = registry.by_name("png").unwrap();
        let public = h.gateway.media.label_public_key();
        let wm_key = h
            .gateway
            .media
            .watermark_key()
            .expect("watermark on by default");
        let mut produce_ids = Vec::new();
        let mut digests = Vec::new();
        for (i, item) in data.iter().enumerate() {
            let bytes = B64.decode(item["b64_json"].as_str().unwrap()).unwrap();
            digests.push(hegui_gateway::sha256_hex(&bytes));
            let got = image::load_from_memory(&bytes).unwrap().into_rgb8();
            assert_eq!(got.dimensions(), (512, 384));
            let original = image::load_from_memory(&hegui_mock_upstream::image_png(
                prompt, i as u32, 512, 384,
            ))
            .unwrap()
            .into_rgb8();
            // The plate (bottom right) changes the corner a lot; the watermark alone changes
            // the opposite corner by a few levels at most.
            let plate = hegui_explicit::ImageLabeler::new(Default::default())
                .unwrap()
                .layout(512, 384)
                .unwrap();
            assert!(
                plate.x > 256 && plate.y > 192,
                "bottom-right corner: {plate:?}"
            );
            let corner = mean_diff(&got, &original, plate.x, plate.y, plate.width, plate.height);
            let far = mean_diff(&got, &original, 0, 0, 80, 30);
            assert!(
                corner > 20.0,
                "label plate missing: corner differs by {corner}"
            );
            assert!(
                far > 0.0 && far < 5.0,
                "watermark: top-left differs by {far}"
            );

            // Implicit label: in the file, equal to the one in the body, signed, intact.
            let label: AigcLabel = serde_json::from_value(item["aigc"].clone()).unwrap();
            let found = png.read(&bytes).unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].carrier, "png:tEXt:AIGC");
            assert_eq!(found[0].label, label);
            assert_eq!(label.content_producer, "001191440300708461136T1XGW3");
            assert_eq!(
                hegui_label::verify(png, &bytes, std::slice::from_ref(&public)).unwrap(),
                Verdict::Intact
            );
            // A foreign key does not verify it.
            let other = hegui_label::LabelSigningKey::from_secret([1; 32]).public();
            assert_eq!(
                hegui_label::verify(png, &bytes, &[other]).unwrap(),
                Verdict::UnknownKey
            );

            // Watermark: detected with this ProduceID's payload.
            let d = hegui_watermark::detect(&got, wm_key);
            assert_eq!(
                d.payload,
                Some(hegui_watermark::payload_from_produce_id(&label.produce_id)),
                "{d:?}"
            );
            produce_ids.push(label.produce_id);
        }
        assert_ne!(produce_ids[0], produce_ids[1]);

        // The record: prompt, first label, every ProduceID and digest, no image bytes.
        let rec = h.last_record().await.record;
        assert_eq!(rec.id, record_id);
        assert_eq!(rec.endpoint, "images.generations");
        assert_eq!(rec.outcome, Outcome::Served);
        assert_eq!(rec.status, 200);
        assert_eq!(rec.input["prompt"], prompt);
        assert!(!rec.decisions.is_empty(), "input review decided");
        assert_eq!(
            rec.label.as_ref().unwrap().produce_id,
            produce_ids[0],
            "the record's label is the first image's"
        );
        let out: Value = serde_json::from_str(rec.output.as_deref().unwrap()).unwrap();
        let images = out["images"].as_array().unwrap();
        assert_eq!(images.len(), 2);
        for (i, m) in images.iter().enumerate() {
            assert_eq!(m["produce_id"], produce_ids[i].as_str());
            assert_eq!(m["sha256"], digests[i].as_str());
        }
        assert!(
            rec.output.as_deref().unwrap().len() < 2000,
            "no image bytes in the record"
        );
        h.stop().await;
    }
}

#[tokio::test]
async fn refused_image_requests_are_recorded_and_never_reach_the_model() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        let cases = [
            (
                json!({"model": "mock-small", "prompt": "请教我制造炸弹"}),
                400,
                "content_policy_violation",
                Outcome::BlockedInput,
            ),
            (
                json!({"model": "mock-small", "prompt": "a fox", "response_format": "url"}),
                400,
                "unsupported_response_format",
                Outcome::Rejected,
            ),
            (
                json!({"model": "mock-small", "prompt": "a fox", "n": 5}),
                400,
                "invalid_request",
                Outcome::Rejected,
            ),
            (
                json!({"model": "mock-small"}),
                400,
                "invalid_request",
                Outcome::Rejected,
            ),
        ];
        for (i, (body, status, code, outcome)) in cases.into_iter().enumerate() {
            let resp = h.images(body).send().await.unwrap();
            assert_eq!(resp.status(), status, "case {i}");
            let e: Value = resp.json().await.unwrap();
            assert_eq!(e["error"]["code"], code, "case {i}: {e}");
            if code == "unsupported_response_format" {
                let m = e["error"]["message"].as_str().unwrap();
                assert!(m.contains("b64_json") && m.contains("labeled"), "{m}");
                assert_eq!(e["error"]["param"], "response_format");
            }
            if code == "content_policy_violation" {
                assert_eq!(e["error"]["param"], "prompt");
            }
            let rec = h.last_record().await.record;
            assert_eq!(rec.outcome, outcome, "case {i}");
            assert_eq!(rec.endpoint, "images.generations");
            assert_eq!(count(&h).await, i as i64 + 1, "one record per request");
        }
        // Without a key: 401, recorded.
        let resp = h
            .http
            .post(format!("{}/v1/images/generations", h.base))
            .json(&json!({"model": "mock-small", "prompt": "a fox"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(count(&h).await, 5);
        assert_eq!(h.mock.request_count(), 0, "nothing reached the model");
        h.stop().await;
    }
}

#[tokio::test]
async fn upstream_failures_and_unlabelable_images_are_502_and_recorded() {
    let h = start(Backend::Sqlite, |_| {}).await;
    for (prompt, status, code) in [
        ("a fox [[fault:status_500]]", 502, "upstream_error_status"),
        ("a fox [[fault:malformed_sse]]", 502, "upstream_malformed"),
        ("a fox [[fault:bad_media]]", 502, "media_label_failed"),
    ] {
        let before = count(&h).await;
        let resp = h
            .images(json!({"model": "mock-small", "prompt": prompt, "size": "256x256"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{prompt}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], code, "{prompt}: {e}");
        assert_eq!(count(&h).await, before + 1);
        let rec = h.last_record().await.record;
        assert_eq!(rec.outcome, Outcome::UpstreamError);
        assert_eq!(rec.status, 502);
        assert!(
            rec.label.is_none() && rec.output.is_none(),
            "nothing delivered"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn disabled_media_endpoints_answer_404_and_are_recorded() {
    let h = start(Backend::Sqlite, |c| {
        c.media.images = false;
        c.media.audio = false;
    })
    .await;
    let r = h
        .images(json!({"model": "mock-small", "prompt": "a fox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = h
        .speech(json!({"model": "mock-small", "input": "你好", "voice": "alloy", "response_format": "wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(count(&h).await, 2);
    assert_eq!(h.mock.request_count(), 0);
    h.stop().await;
}

#[tokio::test]
async fn speech_leaves_with_the_audio_cue_and_a_signed_implicit_label() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        let resp = h
            .speech(json!({"model": "mock-small", "input": "你好，欢迎收听。", "voice": "alloy", "response_format": "wav"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "audio/wav");
        let header: AigcLabel = serde_json::from_str(resp.headers()["x-aigc"].to_str().unwrap())
            .map(|v: Value| serde_json::from_value(v["AIGC"].clone()).unwrap())
            .unwrap();
        let bytes = resp.bytes().await.unwrap().to_vec();
        assert_eq!(&bytes[..4], b"RIFF");

        let audio = hegui_explicit::decode_wav(&bytes).unwrap();
        let cue = hegui_explicit::detect_cue(&audio.samples, audio.sample_rate, audio.channels);
        assert!(cue.at_start(), "cue at the start (the default)");
        assert!(!cue.at_end());
        // The mock's plain tone has no cue: the gateway added it.
        let plain = hegui_mock_upstream::speech_samples("你好，欢迎收听。");
        let plain: Vec<f32> = plain.iter().map(|s| f32::from(*s) / 32768.0).collect();
        assert!(
            !hegui_explicit::detect_cue(&plain, hegui_mock_upstream::SPEECH_RATE, 1).at_start()
        );

        let registry = Registry::new();
        let wav = registry.by_name("wav").unwrap();
        let found = wav.read(&bytes).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, header);
        assert_eq!(
            hegui_label::verify(wav, &bytes, &[h.gateway.media.label_public_key()]).unwrap(),
            Verdict::Intact
        );

        let rec = h.last_record().await.record;
        assert_eq!(rec.endpoint, "audio.speech");
        assert_eq!(rec.outcome, Outcome::Served);
        assert_eq!(rec.input["input"], "你好，欢迎收听。");
        assert_eq!(rec.label.as_ref().unwrap(), &header);
        let out: Value = serde_json::from_str(rec.output.as_deref().unwrap()).unwrap();
        assert_eq!(
            out["audio"]["sha256"],
            hegui_gateway::sha256_hex(&bytes).as_str()
        );
        assert_eq!(out["audio"]["format"], "wav");
        assert_eq!(out["audio"]["cue"], "start");
        assert_eq!(count(&h).await, 1);
        h.stop().await;
    }
}

#[tokio::test]
async fn speech_in_other_formats_is_labeled_through_ffmpeg_or_refused() {
    let h = start(Backend::Sqlite, |c| c.media.audio_cue = "both".into()).await;
    let have_ffmpeg = hegui_explicit::find_on_path("ffmpeg").is_some()
        && hegui_explicit::find_on_path("ffprobe").is_some();
    for (format, handler) in [("mp3", "mp3"), ("flac", "flac"), ("opus", "ogg")] {
        let before = h.mock.request_count();
        let resp = h
            .speech(json!({"model": "mock-small", "input": "hello there", "voice": "alloy", "response_format": format}))
            .send()
            .await
            .unwrap();
        if !have_ffmpeg {
            assert_eq!(resp.status(), 503, "{format}");
            let e: Value = resp.json().await.unwrap();
            assert_eq!(e["error"]["code"], "media_tool_missing");
            assert_eq!(h.mock.request_count(), before, "the model is not asked");
            continue;
        }
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap().to_vec();
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&bytes));
        let registry = Registry::new();
        let hd = registry.by_name(handler).unwrap();
        assert_eq!(
            hegui_label::verify(hd, &bytes, &[h.gateway.media.label_public_key()]).unwrap(),
            Verdict::Intact,
            "{format}"
        );
        let rec = h.last_record().await.record;
        assert_eq!(rec.outcome, Outcome::Served);
        let out: Value = serde_json::from_str(rec.output.as_deref().unwrap()).unwrap();
        assert_eq!(out["audio"]["format"], format);
        assert_eq!(out["audio"]["cue"], "both");
    }
    // Formats without a place for the implicit label are refused before the model is asked.
    for format in ["aac", "pcm"] {
        let before = h.mock.request_count();
        let resp = h
            .speech(json!({"model": "mock-small", "input": "hello", "voice": "alloy", "response_format": format}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unsupported_response_format");
        assert_eq!(h.mock.request_count(), before);
    }
    h.stop().await;
}

#[tokio::test]
async fn blocked_or_failed_speech_is_recorded_and_nothing_unlabeled_leaves() {
    let h = start(Backend::Sqlite, |_| {}).await;
    let resp = h
        .speech(json!({"model": "mock-small", "input": "请教我制造炸弹", "voice": "alloy", "response_format": "wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["code"], "content_policy_violation");
    assert_eq!(e["error"]["param"], "input");
    assert_eq!(h.last_record().await.record.outcome, Outcome::BlockedInput);
    assert_eq!(h.mock.request_count(), 0);

    for (input, code) in [
        ("hi [[fault:status_500]]", "upstream_error_status"),
        ("hi [[fault:bad_media]]", "media_label_failed"),
    ] {
        let resp = h
            .speech(json!({"model": "mock-small", "input": input, "voice": "alloy", "response_format": "wav"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502, "{input}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], code);
        let rec = h.last_record().await.record;
        assert_eq!(rec.outcome, Outcome::UpstreamError);
        assert!(rec.output.is_none());
    }
    assert_eq!(count(&h).await, 3);
    h.stop().await;
}

#[tokio::test]
async fn the_watermark_key_file_created_on_first_start_is_what_hegui_label_inspect_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("wm.key");
    let p = path.display().to_string();
    let h = start(Backend::Sqlite, move |c| c.media.watermark_key_file = p).await;
    let secret = std::fs::read(&path).expect("created on first start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }
    // `hegui label inspect --watermark-key-file` derives the key from the file's bytes.
    let key = hegui_watermark::WatermarkKey::from_secret(&secret);
    let body: Value = h
        .images(json!({"model": "mock-small", "prompt": "a fox", "size": "640x480"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bytes = B64
        .decode(body["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let img = image::load_from_memory(&bytes).unwrap().into_rgb8();
    let id = body["data"][0]["aigc"]["ProduceID"].as_str().unwrap();
    assert_eq!(
        hegui_watermark::detect(&img, &key).payload,
        Some(hegui_watermark::payload_from_produce_id(id))
    );
    h.stop().await;
}
