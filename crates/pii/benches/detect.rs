//! Throughput of `Detector::detect` on ~1 MB of mixed Chinese text with some PII, and on
//! 1 MB adversarial inputs that would expose super-linear behaviour.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hegui_pii::Detector;

const SENTENCES: &[&str] = &[
    "根据《生成式人工智能服务管理暂行办法》，服务提供者应当依法开展预训练、优化训练等训练数据处理活动。",
    "请帮我写一封给客户的道歉信，语气要诚恳，篇幅控制在三百字以内。",
    "今天上海的天气多云转晴，最高气温二十六摄氏度，适合户外活动。",
    "我们在2024年第3季度的营收同比增长了12.5%，毛利率为38%。",
    "Rust 的所有权模型可以在编译期避免数据竞争，这对网关服务很重要。",
    "订单号 20240315-0087 已发货，预计 3-5 个工作日送达。",
    "会议改到周四下午 3 点，地点在 12 楼 1203 会议室。",
    "这段代码的时间复杂度是 O(n log n)，空间复杂度是 O(n)。",
    "请把下面这段话翻译成英文：人工智能生成合成内容应当添加显式标识。",
    "The model output should be reviewed before it is shown to the user.",
];

const PII: &[&str] = &[
    "我的身份证号是11010519491231002X，请帮我查一下。",
    "手机：138 1234 5678，微信同号。",
    "联系电话+86-139-1234-5678，工作日可打。",
    "邮箱 zhang.san@example.com 随时联系。",
    "工资卡号6222 0212 3456 7890 128，开户行工商银行。",
    "公司统一社会信用代码91350100M000100Y43。",
    "全角号码：１３９１２３４５６７８。",
];

/// Deterministic linear congruential generator: no `rand` dependency for one bench.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// About `size` bytes of prose with roughly one PII sentence in twelve.
fn corpus(size: usize) -> String {
    let mut rng = Lcg(42);
    let mut s = String::with_capacity(size + 256);
    while s.len() < size {
        if rng.next(12) == 0 {
            s.push_str(PII[rng.next(PII.len())]);
        } else {
            s.push_str(SENTENCES[rng.next(SENTENCES.len())]);
        }
        if rng.next(6) == 0 {
            s.push('\n');
        }
    }
    s
}

fn bench_detect(c: &mut Criterion) {
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default();
    let det = Detector::new(today);
    let text = corpus(1 << 20);
    let found = det.detect(&text).len();
    eprintln!("corpus: {} bytes, {found} matches", text.len());

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("mixed_chinese_1MB", |b| {
        b.iter(|| det.detect(black_box(&text)))
    });

    let adversarial: [(&str, String); 5] = [
        ("digits_1MB", "1".repeat(1 << 20)),
        ("digit_pairs_1MB", "13 ".repeat((1 << 20) / 3)),
        ("fullwidth_digits_1MB", "１".repeat((1 << 20) / 3)),
        ("at_signs_1MB", "a.b@".repeat((1 << 20) / 4)),
        ("alnum_1MB", "A1".repeat(1 << 19)),
    ];
    for (name, input) in &adversarial {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(*name, |b| b.iter(|| det.detect(black_box(input))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_detect
}
criterion_main!(benches);
