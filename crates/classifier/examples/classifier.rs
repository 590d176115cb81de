//! `hegui classifier …` without clap: the same commands over `hegui_classifier::cli`.
//!
//! ```text
//! classifier train   --data FILE --out MODEL [--format csv|jsonl] [--text-column C]
//!                    [--label-column C] [--label-map 0=safe,1=offensive] [--risk offensive=A2-9]
//!                    [--ngrams 1-2] [--bits 18] [--epochs 10] [--lr 0.2] [--l2 1e-5]
//!                    [--seed 42] [--class-weights uniform|balanced|L=W,..] [--threshold 0.5]
//!                    [--negative-label L] [--holdout 0.1]
//! classifier eval    --model MODEL --data FILE [--format …] [--text-column C] [--label-column C]
//!                    [--label-map …] [--threshold T] [--sweep default|0.3,0.5|0.1:0.9:0.1]
//! classifier predict --model MODEL TEXT...
//! classifier info    --model MODEL
//! ```

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitCode;

use hegui_classifier::cli::{
    eval_command, info_command, parse_class_weights, parse_ngrams, parse_pairs, parse_thresholds,
    predict_command, train_command, EvalArgs, TrainArgs,
};
use hegui_classifier::{DataFormat, ReadOptions, TrainConfig};

type Result<T> = std::result::Result<T, String>;

const USAGE: &str = "usage: classifier train --data FILE --out MODEL [options]
       classifier eval --model MODEL --data FILE [options]
       classifier predict --model MODEL TEXT...
       classifier info --model MODEL
(see the top of examples/classifier.rs for every option)";

struct Flags {
    args: VecDeque<String>,
    positional: Vec<String>,
}

impl Flags {
    fn next_flag(&mut self) -> Option<String> {
        while let Some(a) = self.args.pop_front() {
            if a.starts_with("--") {
                return Some(a);
            }
            self.positional.push(a);
        }
        None
    }

    fn value(&mut self, flag: &str) -> Result<String> {
        self.args
            .pop_front()
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
}

/// Applies a data-reading flag; false if `flag` is not one.
fn read_flag(flags: &mut Flags, flag: &str, read: &mut ReadOptions) -> Result<bool> {
    match flag {
        "--format" => {
            let v = flags.value(flag)?;
            read.format = Some(DataFormat::parse(&v).ok_or("--format must be csv or jsonl")?);
        }
        "--text-column" => read.text_column = flags.value(flag)?,
        "--label-column" => read.label_column = flags.value(flag)?,
        "--label-map" => {
            read.label_map =
                parse_pairs("--label-map", &flags.value(flag)?).map_err(|e| e.to_string())?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn run(mut argv: VecDeque<String>) -> Result<String> {
    let command = argv.pop_front().ok_or(USAGE)?;
    let mut flags = Flags {
        args: argv,
        positional: Vec::new(),
    };
    let mut read = ReadOptions::default();
    let mut config = TrainConfig::default();
    let (mut data, mut out, mut model) = (None, None, None);
    let (mut sweep, mut threshold) = (None, None);
    while let Some(flag) = flags.next_flag() {
        if read_flag(&mut flags, &flag, &mut read)? {
            continue;
        }
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(flags.value(&flag)?)),
            "--out" => out = Some(PathBuf::from(flags.value(&flag)?)),
            "--model" => model = Some(PathBuf::from(flags.value(&flag)?)),
            "--risk" => {
                config.risk_codes =
                    parse_pairs("--risk", &flags.value(&flag)?).map_err(|e| e.to_string())?
            }
            "--ngrams" => {
                (config.ngram_min, config.ngram_max) =
                    parse_ngrams(&flags.value(&flag)?).map_err(|e| e.to_string())?
            }
            "--bits" => config.bucket_bits = num(&flag, &flags.value(&flag)?)?,
            "--epochs" => config.epochs = num(&flag, &flags.value(&flag)?)?,
            "--lr" => config.learning_rate = num(&flag, &flags.value(&flag)?)?,
            "--l2" => config.l2 = num(&flag, &flags.value(&flag)?)?,
            "--seed" => config.seed = num(&flag, &flags.value(&flag)?)?,
            "--holdout" => config.holdout = num(&flag, &flags.value(&flag)?)?,
            "--negative-label" => config.negative_label = Some(flags.value(&flag)?),
            "--class-weights" => {
                config.class_weights =
                    parse_class_weights(&flags.value(&flag)?).map_err(|e| e.to_string())?
            }
            "--threshold" => {
                let t: f32 = num(&flag, &flags.value(&flag)?)?;
                config.threshold = t;
                threshold = Some(t);
            }
            "--sweep" => {
                sweep = Some(parse_thresholds(&flags.value(&flag)?).map_err(|e| e.to_string())?)
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let need = |v: Option<PathBuf>, flag: &str| v.ok_or(format!("{command} needs {flag}\n{USAGE}"));
    let report = match command.as_str() {
        "train" => train_command(&TrainArgs {
            data: need(data, "--data")?,
            read,
            out: need(out, "--out")?,
            config,
        })
        .map(|r| r.to_string()),
        "eval" => eval_command(&EvalArgs {
            model: need(model, "--model")?,
            data: need(data, "--data")?,
            read,
            sweep,
            threshold,
        })
        .map(|r| r.to_string()),
        "predict" => {
            predict_command(&need(model, "--model")?, &flags.positional).map(|r| r.to_string())
        }
        "info" => info_command(&need(model, "--model")?),
        _ => return Err(USAGE.to_owned()),
    };
    report.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
