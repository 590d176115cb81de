#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The audible cue on WAV: every sample format, placement, intact content, kept chunks, the
//! detector's negatives, and bad input.

use std::io::Cursor;

use hegui_explicit::audio::{decode_wav, detect_cue, detect_cue_with, CueSpec};
use hegui_explicit::{
    AudioFileLabeler, CuePlacement, ExplicitError, ExplicitLabeler, FileJob, Tools, WavLabeler,
};
use hound::{SampleFormat, WavSpec, WavSpecEx};
use proptest::prelude::*;

/// `secs` of a 300 Hz sine plus a little deterministic noise, interleaved.
fn content(rate: u32, channels: u16, secs: f32) -> Vec<f32> {
    let n = (rate as f32 * secs) as usize;
    let mut s = 0x9e37_79b9_u32;
    let mut out = Vec::with_capacity(n * usize::from(channels));
    for i in 0..n {
        let t = i as f32 / rate as f32;
        for c in 0..channels {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let noise = (s as f32 / u32::MAX as f32 - 0.5) * 0.02;
            let phase = f32::from(c) * 0.7;
            out.push(0.3 * (2.0 * std::f32::consts::PI * 300.0 * t + phase).sin() + noise);
        }
    }
    out
}

fn wav(spec_ex: WavSpecEx, samples: &[f32]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new_with_spec_ex(&mut buf, spec_ex).unwrap();
    let spec = spec_ex.spec;
    for s in samples {
        match spec.sample_format {
            SampleFormat::Float => w.write_sample(*s).unwrap(),
            SampleFormat::Int => {
                let full = ((1i64 << (spec.bits_per_sample - 1)) - 1) as f32;
                w.write_sample((s * full).round() as i32).unwrap();
            }
        }
    }
    w.finalize().unwrap();
    buf.into_inner()
}

fn spec(format: SampleFormat, bits: u16, bytes: u16, rate: u32, channels: u16) -> WavSpecEx {
    WavSpecEx {
        spec: WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        },
        bytes_per_sample: bytes,
    }
}

const FORMATS: [(SampleFormat, u16, u16); 6] = [
    (SampleFormat::Int, 8, 1),
    (SampleFormat::Int, 16, 2),
    (SampleFormat::Int, 24, 3),
    (SampleFormat::Int, 24, 4),
    (SampleFormat::Int, 32, 4),
    (SampleFormat::Float, 32, 4),
];

fn block_frames(rate: u32) -> usize {
    let spec = CueSpec::default();
    ((spec.cue_ms() + spec.separation_ms) as u64 * u64::from(rate) / 1000) as usize
}

#[test]
fn cue_is_found_at_both_ends_and_content_is_intact_in_every_format() {
    for (format, bits, bytes) in FORMATS {
        for (rate, channels) in [(8000, 1), (44_100, 2), (48_000, 6)] {
            let what = format!("{format:?}{bits}/{bytes}B {rate} Hz x{channels}");
            let spec_ex = spec(format, bits, bytes, rate, channels);
            let input = wav(spec_ex, &content(rate, channels, 1.5));
            let before = decode_wav(&input).unwrap();
            assert!(
                !detect_cue(&before.samples, rate, channels).at_start(),
                "{what}"
            );

            let out = WavLabeler::default().apply(input.clone()).unwrap();
            let reader = hound::WavReader::new(Cursor::new(&out)).unwrap();
            assert_eq!(reader.spec(), spec_ex.spec, "{what}: format kept");
            let after = decode_wav(&out).unwrap();
            let det = detect_cue(&after.samples, rate, channels);
            assert!(det.at_start() && det.at_end(), "{what}: {det:?}");
            assert!(det.start_onset_secs.unwrap() < 0.02, "{what}: {det:?}");

            let lead = block_frames(rate) * usize::from(channels);
            assert_eq!(
                after.samples.len(),
                before.samples.len() + 2 * lead,
                "{what}"
            );
            assert_eq!(
                &after.samples[lead..lead + before.samples.len()],
                &before.samples[..],
                "{what}: original samples intact after the cue"
            );
        }
    }
}

#[test]
fn placement_start_or_end_only() {
    let spec_ex = spec(SampleFormat::Int, 16, 2, 22_050, 1);
    let input = wav(spec_ex, &content(22_050, 1, 1.0));
    for (placement, start, end) in [
        (CuePlacement::Start, true, false),
        (CuePlacement::End, false, true),
        (CuePlacement::Both, true, true),
    ] {
        let l = WavLabeler {
            placement,
            ..WavLabeler::default()
        };
        let out = decode_wav(&l.label_wav(&input).unwrap()).unwrap();
        let det = detect_cue(&out.samples, 22_050, 1);
        assert_eq!(
            (det.at_start(), det.at_end()),
            (start, end),
            "{placement:?}"
        );
    }
}

#[test]
fn the_cue_has_the_documented_timing() {
    let spec = CueSpec::default();
    assert_eq!(spec.cue_ms(), 1080);
    let rate = 48_000;
    let mono = spec.tones_mono(rate);
    assert_eq!(mono.len(), 1080 * 48);
    // On/off at 1 ms resolution: tones at 0–120, 240–600, 720–840, 960–1080 ms.
    let on_ms: Vec<bool> = mono
        .chunks(48)
        .map(|ms| ms.iter().any(|s| s.abs() > 0.1))
        .collect();
    let expect = |ms: usize| {
        [(0, 120), (240, 600), (720, 840), (960, 1080)]
            .iter()
            .any(|(a, b)| (a + 2..b - 2).contains(&ms))
    };
    for (ms, on) in on_ms.iter().enumerate() {
        if expect(ms) {
            assert!(*on, "silent at {ms} ms");
        }
        let in_gap = [(120, 240), (600, 720), (840, 960)]
            .iter()
            .any(|(a, b)| (*a..*b).contains(&ms));
        if in_gap {
            assert!(!*on, "sound in a gap at {ms} ms");
        }
    }
    // Ramps: the first and last samples of a tone are near zero (no click).
    assert!(mono[0].abs() < 0.01 && mono[120 * 48 - 1].abs() < 0.02);
    assert!(mono.iter().all(|s| s.abs() <= 0.5 + 1e-6));
}

#[test]
fn detector_refuses_lookalikes() {
    let rate = 16_000;
    let spec = CueSpec::default();
    let with_silence = |tones: Vec<f32>| {
        let mut v = tones;
        v.extend(std::iter::repeat_n(0.0, rate as usize));
        v
    };
    // Wrong rhythm: long short long long.
    let swapped = CueSpec {
        short_ms: 360,
        long_ms: 120,
        ..spec
    };
    let wrong = with_silence(swapped.tones_mono(rate));
    assert!(!detect_cue(&wrong, rate, 1).at_start());
    // A continuous 880 Hz tone.
    let steady: Vec<f32> = (0..rate * 2)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 880.0 * i as f32 / rate as f32).sin())
        .collect();
    let det = detect_cue(&steady, rate, 1);
    assert!(!det.at_start() && !det.at_end());
    // The right rhythm at another pitch is not this cue.
    let other_pitch = CueSpec {
        frequency_hz: 440.0,
        ..spec
    };
    assert!(!detect_cue(&with_silence(other_pitch.tones_mono(rate)), rate, 1).at_start());
    // ...but the detector configured for that pitch finds it.
    assert!(detect_cue_with(
        &other_pitch,
        &with_silence(other_pitch.tones_mono(rate)),
        rate,
        1
    )
    .at_start());
    // Plain content and silence.
    assert_eq!(
        detect_cue(&content(rate, 1, 3.0), rate, 1),
        Default::default()
    );
    assert_eq!(detect_cue(&vec![0.0; 32_000], rate, 1), Default::default());
    assert_eq!(detect_cue(&[], rate, 1), Default::default());
}

#[test]
fn detector_finds_the_cue_under_noise_and_late_by_a_codec_delay() {
    let rate = 44_100;
    let mut s = vec![0.0f32; rate as usize / 20]; // 50 ms encoder delay
    s.extend(CueSpec::default().block(rate, 1, false));
    s.extend(content(rate, 1, 1.0));
    let mut x = 12345u32;
    for v in &mut s {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *v += (x >> 16) as f32 / 65_536.0 * 0.02 - 0.01;
    }
    let det = detect_cue(&s, rate, 1);
    let onset = det.start_onset_secs.unwrap();
    assert!((0.04..=0.06).contains(&onset), "{onset}");
}

#[test]
fn other_chunks_are_kept_byte_for_byte_and_fact_is_updated() {
    let spec_ex = spec(SampleFormat::Float, 32, 4, 16_000, 1);
    let base = wav(spec_ex, &content(16_000, 1, 0.5));
    // Insert a LIST chunk before data and an odd-sized AIGC chunk after it.
    let data_pos = base.windows(4).position(|w| w == b"data").unwrap();
    let list = b"LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00".to_vec();
    let aigc_body = br#"{"AIGC":{"Label":"1"}}X"#; // 23 bytes: odd, padded
    let mut aigc = b"AIGC".to_vec();
    aigc.extend((aigc_body.len() as u32).to_le_bytes());
    aigc.extend_from_slice(aigc_body);
    aigc.push(0);
    let fact = b"fact\x04\x00\x00\x00\x40\x1f\x00\x00".to_vec(); // 8000 frames
    let mut file = base[..data_pos].to_vec();
    file.extend(&fact);
    file.extend(&list);
    file.extend(&base[data_pos..]);
    file.extend(&aigc);
    let riff = (file.len() - 8) as u32;
    file[4..8].copy_from_slice(&riff.to_le_bytes());

    let out = WavLabeler::default().label_wav(&file).unwrap();
    assert!(out.windows(list.len()).any(|w| w == list.as_slice()));
    assert!(out.ends_with(&aigc), "AIGC chunk kept at the end");
    assert_eq!(
        u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
        out.len() - 8
    );
    let fact_at = out.windows(4).position(|w| w == b"fact").unwrap();
    let frames = u32::from_le_bytes(out[fact_at + 8..fact_at + 12].try_into().unwrap());
    assert_eq!(frames as usize, 8000 + 2 * block_frames(16_000));
    let decoded = decode_wav(&out).unwrap();
    assert_eq!(decoded.samples.len(), frames as usize);
}

#[test]
fn bad_wav_input_is_an_error_not_a_panic() {
    let l = WavLabeler::default();
    let good = wav(
        spec(SampleFormat::Int, 16, 2, 8000, 1),
        &content(8000, 1, 0.2),
    );

    let not_wav = l.label_wav(b"ID3\x04\x00 this is an mp3").unwrap_err();
    assert!(matches!(not_wav, ExplicitError::BadWav { .. }), "{not_wav}");
    assert!(not_wav.to_string().contains("RIFF"));
    assert!(l.label_wav(&[]).is_err());
    assert!(l.label_wav(&good[..20]).is_err());

    // A data chunk that claims more bytes than the file has.
    let mut lying = good.clone();
    let d = lying.windows(4).position(|w| w == b"data").unwrap();
    lying[d + 4..d + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    let err = l.label_wav(&lying).unwrap_err();
    assert!(err.to_string().contains("declares 1000000 bytes"), "{err}");
    assert!(decode_wav(&lying).is_err());

    // A data chunk that is not whole frames (odd length for 16-bit).
    let mut ragged = good[..good.len() - 1].to_vec();
    ragged[d + 4..d + 8].copy_from_slice(&((good.len() - d - 8 - 1) as u32).to_le_bytes());
    assert!(l.label_wav(&ragged).is_err());

    // A-law (format tag 6): not PCM or float.
    let mut alaw = good.clone();
    let f = alaw.windows(4).position(|w| w == b"fmt ").unwrap();
    alaw[f + 8..f + 10].copy_from_slice(&6u16.to_le_bytes());
    let err = l.label_wav(&alaw).unwrap_err();
    assert!(
        matches!(
            err,
            ExplicitError::UnsupportedAudio { .. } | ExplicitError::BadWav { .. }
        ),
        "{err}"
    );

    // 12-bit PCM in 2-byte containers: hound reads it, the cue cannot be written in it.
    let mut twelve = good.clone();
    twelve[f + 22..f + 24].copy_from_slice(&12u16.to_le_bytes());
    let err = l.label_wav(&twelve).unwrap_err();
    assert!(
        matches!(err, ExplicitError::UnsupportedAudio { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("convert it"), "{err}");

    // A sample rate too low for an 880 Hz tone.
    let low = wav(spec(SampleFormat::Int, 16, 2, 1000, 1), &[0.0; 100]);
    let err = l.label_wav(&low).unwrap_err();
    assert!(err.to_string().contains("too low"), "{err}");
}

#[test]
fn invalid_cue_options_are_refused() {
    let good = wav(
        spec(SampleFormat::Int, 16, 2, 8000, 1),
        &content(8000, 1, 0.2),
    );
    for cue in [
        CueSpec {
            long_ms: 150,
            ..CueSpec::default()
        },
        CueSpec {
            amplitude: 2.0,
            ..CueSpec::default()
        },
        CueSpec {
            ramp_ms: 100,
            ..CueSpec::default()
        },
    ] {
        let l = WavLabeler {
            cue,
            ..WavLabeler::default()
        };
        assert!(matches!(
            l.label_wav(&good),
            Err(ExplicitError::InvalidOption { .. })
        ));
    }
}

#[test]
fn wav_files_are_labelled_without_tools_and_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    std::fs::write(
        &input,
        wav(
            spec(SampleFormat::Int, 16, 2, 16_000, 2),
            &content(16_000, 2, 0.5),
        ),
    )
    .unwrap();
    let labeler = AudioFileLabeler::default();
    labeler
        .label_file_with(&input, &output, || panic!("WAV must not need ffmpeg"))
        .unwrap();
    let out = decode_wav(&std::fs::read(&output).unwrap()).unwrap();
    let det = detect_cue(&out.samples, out.sample_rate, out.channels);
    assert!(det.at_start() && det.at_end());

    // A corrupt input leaves no output and no temporary file behind.
    std::fs::write(&input, b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff").unwrap();
    let fresh = dir.path().join("fresh.wav");
    assert!(labeler
        .apply(FileJob {
            input: input.clone(),
            output: fresh.clone()
        })
        .is_err());
    assert!(!fresh.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn other_formats_without_ffmpeg_name_the_tool_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp3");
    std::fs::write(&input, b"ID3\x04\x00\x00\x00\x00\x00\x00").unwrap();
    let err = AudioFileLabeler::default()
        .label_file_with(&input, &dir.path().join("out.mp3"), || {
            Tools::locate_in(
                std::ffi::OsStr::new(""),
                "audio other than WAV",
                ", or convert the audio to WAV first",
            )
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(
        err,
        ExplicitError::ToolMissing { tool: "ffmpeg", .. }
    ));
    assert!(msg.contains("apt-get install ffmpeg"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = WavLabeler::default().label_wav(&bytes);
        let _ = decode_wav(&bytes);
    }

    #[test]
    fn mutated_headers_never_panic(at in 0usize..60, value in any::<u8>(), cut in 0usize..400) {
        let mut w = wav(spec(SampleFormat::Int, 16, 2, 8000, 1), &content(8000, 1, 0.05));
        if at < w.len() {
            w[at] = value;
        }
        w.truncate(w.len().saturating_sub(cut));
        if let Ok(out) = WavLabeler::default().label_wav(&w) {
            prop_assert!(decode_wav(&out).is_ok());
        }
    }
}
