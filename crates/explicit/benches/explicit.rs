//! Label costs: image label at 1080p and 4K, WAV cue, cue detection. Run with
//! `bench/explicit/run.sh`; results go in bench/explicit/RESULTS.md.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion};
use hegui_explicit::audio::{decode_wav, detect_cue};
use hegui_explicit::{ImageLabelOptions, ImageLabeler, WavLabeler, Wording};
use image::{Rgb, RgbImage};

fn images(c: &mut Criterion) {
    let labeler = ImageLabeler::new(ImageLabelOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let long = ImageLabeler::new(ImageLabelOptions {
        wording: Wording::new("本内容由人工智能生成").unwrap_or_else(|e| panic!("{e}")),
        ..ImageLabelOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut hd = RgbImage::from_fn(1920, 1080, |x, y| Rgb([x as u8, y as u8, 128]));
    c.bench_function("image_label_1080p_AI生成", |b| {
        b.iter(|| labeler.label_rgb(black_box(&mut hd)))
    });
    c.bench_function("image_label_1080p_本内容由人工智能生成", |b| {
        b.iter(|| long.label_rgb(black_box(&mut hd)))
    });
    c.bench_function("image_layout_only_1080p", |b| {
        b.iter(|| labeler.layout(black_box(1920), black_box(1080)))
    });
    c.bench_function("video_overlay_png_render_4k", |b| {
        b.iter(|| labeler.render_overlay(black_box(3840), black_box(2160)))
    });
}

fn audio(c: &mut Criterion) {
    let rate = 48_000u32;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..rate * 10 * 2 {
            let v = ((i as f32 * 0.01).sin() * 8000.0) as i16;
            w.write_sample(v).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finalize().unwrap_or_else(|e| panic!("{e}"));
    }
    let wav = buf.into_inner();
    let labeler = WavLabeler::default();
    c.bench_function("wav_label_10s_48k_stereo_s16", |b| {
        b.iter(|| labeler.label_wav(black_box(&wav)))
    });
    let labelled = labeler.label_wav(&wav).unwrap_or_else(|e| panic!("{e}"));
    let decoded = decode_wav(&labelled).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("detect_cue_12.6s_48k_stereo", |b| {
        b.iter(|| detect_cue(black_box(&decoded.samples), rate, 2))
    });
}

criterion_group!(benches, images, audio);
criterion_main!(benches);
