//! The composition root: configuration in, a running request path out.

use std::path::PathBuf;
use std::sync::Arc;

use hegui_config::{Config, LabelPosition};
use hegui_label::{Gb45438TextLabeler, Position};
use hegui_policy::{Lexicon, LexiconError, LexiconReviewer, Reviewer, DEMO_LEXICON};
use hegui_store::{RecordWriter, Store, StoreError};
use tokio::task::JoinHandle;

use crate::identity::StoreGate;
use crate::upstream::{OpenAiClient, UpstreamError};
use crate::{Gateway, Metrics, Settings};

/// Why the gateway could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lexicon is invalid.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// A built gateway and the background task that writes its records.
pub struct Built {
    /// The request path.
    pub gateway: Arc<Gateway>,
    /// The record writer task; it ends once every gateway handle is dropped.
    pub writer_task: JoinHandle<()>,
}

/// Loads the review policy named by the configuration.
pub fn load_reviewer(lexicons: &[PathBuf], demo: bool) -> Result<LexiconReviewer, LexiconError> {
    let mut all = Vec::new();
    if demo {
        all.push(Lexicon::parse("(built-in demo lexicon)", DEMO_LEXICON)?);
    }
    for p in lexicons {
        all.push(Lexicon::load(p)?);
    }
    LexiconReviewer::new(all)
}

/// Opens storage, loads the policy and composes the request path.
pub async fn build(cfg: &Config) -> Result<Built, BuildError> {
    let store = Store::open(&cfg.storage.database_url, cfg.storage.max_connections).await?;
    let reviewer: Arc<dyn Reviewer> = Arc::new(load_reviewer(
        &cfg.review.lexicons,
        cfg.review.demo_lexicon,
    )?);
    let upstream = Arc::new(OpenAiClient::new(&cfg.upstream)?);
    let position = match cfg.label.explicit_position {
        LabelPosition::Start => Position::Start,
        LabelPosition::End => Position::End,
        LabelPosition::None => Position::None,
    };
    let labeler = Arc::new(Gb45438TextLabeler::new(
        cfg.label.content_producer.clone(),
        &cfg.label.explicit_text,
        position,
    ));
    let (writer, writer_task) = RecordWriter::spawn(store.clone());
    let gateway = Arc::new(Gateway {
        identity: Arc::new(StoreGate::new(
            store.clone(),
            cfg.identity.require_verification,
            cfg.identity.verify_url.clone(),
        )),
        reviewer,
        upstream,
        labeler,
        recorder: Arc::new(writer),
        metrics: Metrics::new(),
        store,
        settings: Settings {
            models: cfg.models.clone(),
            review_input: cfg.review.input,
            review_output: cfg.review.output,
            on_block: cfg.review.on_block,
            safe_answer: cfg.review.safe_answer.clone(),
            label_header: cfg.label.header,
            max_body_bytes: cfg.server.max_body_bytes,
        },
    });
    Ok(Built {
        gateway,
        writer_task,
    })
}
