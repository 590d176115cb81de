//! hegui's built-in text classifier.
//!
//! Character n-grams of lightly normalised text (NFKC, lowercase), hashed into `2^bits`
//! buckets, L2-normalised, scored by a linear model: one logistic unit for a binary model, one
//! per label (one-vs-rest) otherwise. Training is AdaGrad with L2 regularisation over seeded
//! shuffles, so the same data and config give the same weights. Scoring a short text takes a
//! few microseconds on one core and allocates nothing but the returned score vector.
//!
//! ```
//! use hegui_classifier::{train, Example, TrainConfig};
//!
//! let data = [
//!     Example::new("你真是个傻子", "offensive"),
//!     Example::new("今天天气很好", "safe"),
//!     Example::new("傻子才信", "offensive"),
//!     Example::new("天气不错", "safe"),
//! ];
//! let config = TrainConfig { bucket_bits: 12, epochs: 20, ..TrainConfig::default() };
//! let model = train(&data, &config)?;
//! assert_eq!(model.predict("傻子").label, "offensive");
//! # Ok::<(), hegui_classifier::TrainError>(())
//! ```
//!
//! Invariants:
//! - Nothing here panics on any input: empty or huge text, any bytes as a model file.
//! - The model file is specified in `MODEL_FORMAT.md`; `format.rs` is its only reader/writer.
//! - The crate knows nothing about HTTP, storage or the gateway; `cli` returns reports, it does
//!   not parse command lines.

#![warn(missing_docs)]

pub mod cli;
pub mod data;
pub mod eval;
pub mod features;
pub mod format;
pub mod model;
pub mod risk;
pub mod train;

pub use data::{read_examples, split_stratified, DataError, DataFormat, Example, ReadOptions};
pub use eval::{evaluate, threshold_sweep, Evaluation, LabelMetrics, SweepPoint};
pub use features::{FeatureSpec, TermWeighting};
pub use format::{LoadError, SaveError, FORMAT_VERSION, MAGIC};
pub use model::{
    InvalidThreshold, LabelInfo, Model, ModelKind, ModelMeta, Prediction, SourceInfo,
    StoredMetrics, TrainingInfo,
};
pub use risk::{is_tc260_code, TC260_RISK_CODES};
pub use train::{examples_sha256, train, ClassWeights, TrainConfig, TrainError};
