//! `hegui label …`: implicit GB 45438 labels in files (add, inspect, verify, strip) over
//! `hegui-label`, watermark detection over `hegui-watermark`, and label signing keys.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use hegui_label::{
    label_file_to, propagate_file_to, read_file, verify_all, write_atomic, Evidence,
    LabelPublicKey, LabelSigningKey, Registry, Verdict,
};
use hegui_types::AigcLabel;
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum LabelCommand {
    /// Label a file in place (or into --out): producer mode with --producer, propagator mode
    /// with --propagator.
    Add(AddArgs),
    /// Report every label carrier in a file, whether they agree, the content digest, and with
    /// --watermark-key-file the invisible watermark found in an image.
    Inspect {
        /// The file to inspect.
        file: PathBuf,
        /// File whose bytes are the watermark secret (as `hegui-watermark` derives keys).
        #[arg(long)]
        watermark_key_file: Option<PathBuf>,
        /// Also ask the configured database whether each ProduceID was withdrawn after a
        /// complaint (taken down, corrected or restricted).
        #[arg(long)]
        check_withdrawn: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the label's signatures; exit 1 unless intact.
    Verify {
        /// The labeled file.
        file: PathBuf,
        /// Trusted public key (`ed25519:<hex>`) or a file holding one (or a key file); repeatable.
        #[arg(long = "public-key", required = true)]
        public_keys: Vec<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove every label carrier from a file, in place.
    Strip {
        /// The file (changed in place).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add the visible or audible label (image text, audio cue, video overlay); run before
    /// `add`, whose signature binds the content as delivered.
    Explicit(crate::label_explicit::ExplicitArgs),
    /// Embed the invisible watermark in an image (payload from a ProduceID, as the gateway
    /// does); run after `explicit` and before `add`.
    Watermark(crate::label_watermark::WatermarkArgs),
    /// Make a label signing key file (mode 0600) and print its public key.
    Keygen {
        /// Where to write the key file (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The file to label (replaced, unless --out).
    pub file: PathBuf,
    /// ContentProducer: the generating service provider's code (producer mode).
    #[arg(long)]
    pub producer: Option<String>,
    /// ProduceID (default: a fresh UUIDv7).
    #[arg(long)]
    pub produce_id: Option<String>,
    /// Label: 1 generated, 2 possibly generated, 3 suspected.
    #[arg(long, default_value = "1")]
    pub label: String,
    /// Ed25519 signing key file (`hegui label keygen`): signs ReservedCode1 (producer) or
    /// ReservedCode2 (propagator).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// ContentPropagator: the distributing platform's code (propagator mode).
    #[arg(long)]
    pub propagator: Option<String>,
    /// PropagateID (default: a fresh UUIDv7).
    #[arg(long)]
    pub propagate_id: Option<String>,
    /// For an unlabeled file in propagator mode: why it is labeled (declared → Label 2,
    /// watermark or suspected → Label 3).
    #[arg(long, value_enum)]
    pub evidence: Option<EvidenceArg>,
    /// Write the labeled file here instead of replacing FILE.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum EvidenceArg {
    Watermark,
    Declared,
    Suspected,
}

impl From<EvidenceArg> for Evidence {
    fn from(e: EvidenceArg) -> Self {
        match e {
            EvidenceArg::Watermark => Evidence::WatermarkDetected,
            EvidenceArg::Declared => Evidence::DeclaredByUploader,
            EvidenceArg::Suspected => Evidence::Suspected,
        }
    }
}

pub async fn run(config: Option<&Path>, command: LabelCommand) -> anyhow::Result<()> {
    let registry = Registry::new();
    match command {
        LabelCommand::Add(a) => add(&registry, a),
        LabelCommand::Explicit(a) => crate::label_explicit::run(a),
        LabelCommand::Watermark(a) => crate::label_watermark::run(a),
        LabelCommand::Inspect {
            file,
            watermark_key_file,
            check_withdrawn,
            json,
        } => {
            let store = if check_withdrawn {
                Some(crate::admin::open(config).await?)
            } else {
                None
            };
            let (bytes, h) = read_file(&registry, &file)?;
            let mut withdrawn = Vec::new();
            if let Some(store) = &store {
                for f in h.read(&bytes)? {
                    if let Some(w) = store.withdrawal(&f.label.produce_id).await? {
                        withdrawn.push(json!({"produce_id": w.produce_id, "action": w.action,
                            "at_ms": w.at, "complaint": w.receipt}));
                    }
                }
                withdrawn.dedup();
            }
            let withdrawn = store.map(|_| withdrawn);
            inspect(
                &registry,
                &file,
                watermark_key_file.as_deref(),
                withdrawn,
                json,
            )
        }
        LabelCommand::Verify {
            file,
            public_keys,
            json,
        } => verify(&registry, &file, &public_keys, json),
        LabelCommand::Strip { file, json } => {
            let (bytes, h) = read_file(&registry, &file)?;
            let n = h.read(&bytes)?.len();
            write_atomic(&file, &h.remove(&bytes)?)?;
            print(
                json,
                &json!({"file": file, "format": h.name(), "removed": n}),
                || format!("{}: removed {n} label carrier(s)", file.display()),
            );
            Ok(())
        }
        LabelCommand::Keygen { out, json } => {
            let key = LabelSigningKey::generate();
            key.save(&out)?;
            let public = key.public().to_text();
            print(
                json,
                &json!({"key_file": out, "public_key": public, "key_id": key.key_id()}),
                || {
                    format!(
                        "wrote {} (mode 0600)\npublic key: {public}\nkey id: {}",
                        out.display(),
                        key.key_id()
                    )
                },
            );
            Ok(())
        }
    }
}

fn print(json: bool, v: &Value, text: impl FnOnce() -> String) {
    if json {
        println!("{v}");
    } else {
        println!("{}", text());
    }
}

fn label_json(l: &AigcLabel) -> Value {
    serde_json::to_value(l).unwrap_or(Value::Null)
}

fn add(registry: &Registry, a: AddArgs) -> anyhow::Result<()> {
    let key = a.key.as_deref().map(LabelSigningKey::load).transpose()?;
    let dest = a.out.clone().unwrap_or_else(|| a.file.clone());
    let (written, h, mode) = match &a.propagator {
        Some(code) => {
            let pid = a
                .propagate_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
            let (written, h) = propagate_file_to(
                registry,
                &a.file,
                &dest,
                code,
                &pid,
                key.as_ref(),
                a.evidence.map(Into::into),
            )
            .with_context(|| format!("{}: propagator mode", a.file.display()))?;
            (written, h, "propagator")
        }
        None => {
            let Some(producer) = &a.producer else {
                bail!(
                    "give --producer CODE (producer mode) or --propagator CODE (propagator mode)"
                );
            };
            let label = AigcLabel {
                label: a.label.clone(),
                content_producer: producer.clone(),
                produce_id: a
                    .produce_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                reserved_code1: None,
                content_propagator: None,
                propagate_id: None,
                reserved_code2: None,
            };
            let (written, h) = label_file_to(registry, &a.file, &dest, &label, key.as_ref())?;
            (written, h, "producer")
        }
    };
    print(
        a.json,
        &json!({"file": dest, "format": h.name(), "mode": mode, "carrier": written.carrier,
                "signed": key.is_some(), "label": label_json(&written.label)}),
        || {
            format!(
                "{}: labeled ({}, {}) {}",
                dest.display(),
                h.name(),
                written.carrier,
                written.label.to_payload()
            )
        },
    );
    Ok(())
}

fn inspect(
    registry: &Registry,
    file: &Path,
    wm_key: Option<&Path>,
    withdrawn: Option<Vec<Value>>,
    json: bool,
) -> anyhow::Result<()> {
    let (bytes, h) = read_file(registry, file)?;
    let found = h.read(&bytes)?;
    // The content digest in the current algorithm and in any other a label's signature names,
    // so a verifier can compare it with the one stored in the signature.
    let mut algs = vec![hegui_label::DigestAlg::CURRENT];
    for f in &found {
        algs.extend(hegui_label::sign::signed_digest_algs(&f.label));
    }
    algs.sort();
    algs.dedup();
    let mut digests = serde_json::Map::new();
    for alg in algs {
        let d = hex::encode(h.content_digest_with(&bytes, alg)?);
        digests.insert(alg.name().to_string(), Value::String(d));
    }
    let digest_text = digests
        .iter()
        .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ");
    let agree = found.windows(2).all(|w| w[0].label == w[1].label);
    let watermark = match wm_key {
        None => Value::Null,
        Some(p) => {
            let secret = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let key = hegui_watermark::WatermarkKey::from_secret(&secret);
            match image::load_from_memory(&bytes) {
                Err(e) => json!({"error": format!("cannot decode the file as an image: {e}")}),
                Ok(img) => {
                    let d = hegui_watermark::detect(&img.to_rgb8(), &key);
                    let matches: Vec<&str> = found
                        .iter()
                        .filter(|f| {
                            d.payload
                                == Some(hegui_watermark::payload_from_produce_id(
                                    &f.label.produce_id,
                                ))
                        })
                        .map(|f| f.carrier.as_str())
                        .collect();
                    json!({"detected": d.payload.is_some(), "payload": d.payload.map(|p| format!("{p:016x}")),
                           "confidence": d.confidence, "matches_label_in": matches})
                }
            }
        }
    };
    let labels: Vec<Value> = found
        .iter()
        .map(|f| json!({"carrier": f.carrier, "label": label_json(&f.label)}))
        .collect();
    let mut v = json!({"file": file, "format": h.name(), "canonical_carrier": h.canonical_carrier(),
                   "labels": labels, "agree": agree, "content_digest": digests, "watermark": watermark});
    if let Some(w) = &withdrawn {
        v["withdrawn"] = json!(w);
    }
    // A C2PA manifest (Content Credentials) is reported, not validated.
    v["c2pa"] = match hegui_label::c2pa_carrier(&bytes) {
        Some(carrier) => json!({"present": true, "carrier": carrier}),
        None => json!({"present": false}),
    };
    // The audible label: the "short long short short" cue at the start and end of a WAV.
    if h.name() == "wav" {
        v["audio_cue"] = match hegui_explicit::decode_wav(&bytes) {
            Ok(a) => {
                let c = hegui_explicit::detect_cue(&a.samples, a.sample_rate, a.channels);
                json!({"at_start": c.at_start(), "at_end": c.at_end()})
            }
            Err(e) => json!({"error": e.to_string()}),
        };
    }
    print(json, &v, || {
        let mut s = format!(
            "{} ({}), content digest {digest_text}\n",
            file.display(),
            h.name()
        );
        if found.is_empty() {
            s.push_str("no label\n");
        }
        for f in &found {
            s.push_str(&format!("{}: {}\n", f.carrier, f.label.to_payload()));
        }
        if found.len() > 1 {
            s.push_str(if agree {
                "carriers agree\n"
            } else {
                "carriers DISAGREE\n"
            });
        }
        if !watermark.is_null() {
            s.push_str(&format!("watermark: {watermark}\n"));
        }
        match &withdrawn {
            Some(w) if !w.is_empty() => {
                for x in w {
                    s.push_str(&format!("WITHDRAWN after a complaint: {x}\n"));
                }
            }
            Some(_) => s.push_str("not withdrawn\n"),
            None => {}
        }
        s.trim_end().to_string()
    });
    Ok(())
}

fn public_key(arg: &str) -> anyhow::Result<LabelPublicKey> {
    let p = Path::new(arg);
    if p.is_file() {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {arg}"))?;
        if let Ok(k) = LabelSigningKey::from_file_text(arg, &text) {
            return Ok(k.public());
        }
        return Ok(LabelPublicKey::parse(text.trim())?);
    }
    Ok(LabelPublicKey::parse(arg)?)
}

fn verify(registry: &Registry, file: &Path, keys: &[String], json: bool) -> anyhow::Result<()> {
    let keys: Vec<LabelPublicKey> = keys
        .iter()
        .map(|k| public_key(k))
        .collect::<anyhow::Result<_>>()?;
    let (bytes, h) = read_file(registry, file)?;
    let v = match verify_all(h, &bytes, &keys) {
        Err(hegui_label::LabelError::NoLabel) => {
            print(
                json,
                &json!({"file": file, "format": h.name(), "verdict": "unlabeled"}),
                || format!("{}: no label", file.display()),
            );
            bail!("{}: the file carries no label", file.display());
        }
        r => r?,
    };
    let prop = v.propagator.map(Verdict::as_str);
    print(
        json,
        &json!({"file": file, "format": h.name(), "carrier": v.carrier, "verdict": v.producer.as_str(),
                "propagator_verdict": prop, "label": label_json(&v.label)}),
        || match prop {
            Some(p) => format!(
                "{}: producer {}, propagator {p}",
                file.display(),
                v.producer.as_str()
            ),
            None => format!("{}: {}", file.display(), v.producer.as_str()),
        },
    );
    if v.producer != Verdict::Intact || v.propagator.is_some_and(|p| p != Verdict::Intact) {
        bail!(
            "{}: label is not intact ({})",
            file.display(),
            v.producer.as_str()
        );
    }
    Ok(())
}
