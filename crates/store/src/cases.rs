//! Complaints, their handling steps, withdrawn content, lexicon proposals and incidents.
//!
//! Every change of state is written together with its journal record in one transaction, so
//! the tamper-evident log and the tables never disagree about what happened.

use hegui_types::JournalEntry;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::journal::journal_entry_insert;
use crate::{Store, StoreError};

/// A complaint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// The receipt code the complainant follows the case with.
    pub receipt: String,
    /// Unix ms.
    pub created_at: i64,
    /// A TC260 risk code, `rights`, `personal_info` or `other`.
    pub category: String,
    /// `produce_id`, `interaction` or `excerpt`.
    pub target_kind: String,
    /// The ProduceID, interaction id or excerpt.
    pub target: String,
    /// What the complainant wrote.
    pub description: String,
    /// Contact details, encrypted with the PI keys (`None`: none given).
    pub contact_enc: Option<String>,
    /// `zh` or `en`: the language the complaint was filed in.
    pub lang: String,
    /// `received`, `in_review`, `resolved` or `rejected`.
    pub state: String,
    /// Deadline for a decision (Unix ms).
    pub due_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// The staff member handling it.
    pub assignee: Option<String>,
    /// For a resolved complaint: `delete`, `correct` or `restrict`.
    pub action: Option<String>,
    /// The decision's reasons.
    pub resolution: Option<String>,
    /// The pseudonymous user behind the content, when known.
    pub user_id: Option<String>,
    /// Id of the `complaint` journal record.
    pub record_id: String,
}

/// One step in handling a complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintStep {
    /// Id (also the id of its journal record).
    pub id: String,
    /// The complaint.
    pub receipt: String,
    /// Unix ms.
    pub at: i64,
    /// Who did it (`staff:alice`, `public`).
    pub actor: String,
    /// State before.
    pub from_state: String,
    /// State after.
    pub to_state: String,
    /// Action taken, if any (`delete`, `correct`, `restrict`, `suspend_user`, `propose_term`).
    pub action: Option<String>,
    /// Reasons or notes.
    pub note: String,
}

/// What a step changes besides the state.
#[derive(Debug, Clone, Default)]
pub struct CaseUpdate {
    /// New assignee.
    pub assignee: Option<String>,
    /// Resolution action.
    pub action: Option<String>,
    /// Resolution reasons.
    pub resolution: Option<String>,
    /// The user behind the content, once found.
    pub user_id: Option<String>,
    /// Mark this ProduceID withdrawn with this action.
    pub withdraw: Option<(String, String)>,
}

/// A withdrawn ProduceID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The content.
    pub produce_id: String,
    /// The complaint that led to it.
    pub receipt: String,
    /// `delete`, `correct` or `restrict`.
    pub action: String,
    /// Unix ms.
    pub at: i64,
    /// Who decided.
    pub actor: String,
}

/// A lexicon entry proposed from a complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconProposal {
    /// Id.
    pub id: String,
    /// The complaint.
    pub receipt: String,
    /// The proposed term.
    pub term: String,
    /// Its TC260 risk code.
    pub risk: String,
    /// `proposed`, `accepted` or `rejected`.
    pub state: String,
    /// Unix ms.
    pub created_at: i64,
    /// Who proposed it.
    pub actor: String,
}

/// A serious incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// `inc_…`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// When it happened (Unix ms).
    pub occurred_at: i64,
    /// When it was noticed (Unix ms).
    pub detected_at: i64,
    /// Its impact.
    pub impact: String,
    /// Measures taken.
    pub measures: String,
    /// `open` or `closed`.
    pub state: String,
    /// When it was reported to the regulator.
    pub reported_at: Option<i64>,
    /// The regulator's reference for the report.
    pub report_ref: Option<String>,
    /// Who recorded it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEvent {
    /// Id (also its journal record's id).
    pub id: String,
    /// The incident.
    pub incident_id: String,
    /// Unix ms.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// `opened`, `update`, `measure`, `reported`, `closed`.
    pub kind: String,
    /// What.
    pub note: String,
}

const COMPLAINT_COLUMNS: &str = "receipt, created_at, category, target_kind, target, description, \
     contact_enc, lang, state, due_at, updated_at, assignee, action, resolution, user_id, record_id";

fn complaint_row(r: &AnyRow) -> Result<Complaint, sqlx::Error> {
    Ok(Complaint {
        receipt: r.try_get("receipt")?,
        created_at: r.try_get("created_at")?,
        category: r.try_get("category")?,
        target_kind: r.try_get("target_kind")?,
        target: r.try_get("target")?,
        description: r.try_get("description")?,
        contact_enc: r.try_get("contact_enc")?,
        lang: r.try_get("lang")?,
        state: r.try_get("state")?,
        due_at: r.try_get("due_at")?,
        updated_at: r.try_get("updated_at")?,
        assignee: r.try_get("assignee")?,
        action: r.try_get("action")?,
        resolution: r.try_get("resolution")?,
        user_id: r.try_get("user_id")?,
        record_id: r.try_get("record_id")?,
    })
}

fn step_row(r: &AnyRow) -> Result<ComplaintStep, sqlx::Error> {
    Ok(ComplaintStep {
        id: r.try_get("id")?,
        receipt: r.try_get("receipt")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        action: r.try_get("action")?,
        note: r.try_get("note")?,
    })
}

const INCIDENT_COLUMNS: &str = "id, title, severity, occurred_at, detected_at, impact, measures, \
     state, reported_at, report_ref, created_by, created_at";

fn incident_row(r: &AnyRow) -> Result<Incident, sqlx::Error> {
    Ok(Incident {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        severity: r.try_get("severity")?,
        occurred_at: r.try_get("occurred_at")?,
        detected_at: r.try_get("detected_at")?,
        impact: r.try_get("impact")?,
        measures: r.try_get("measures")?,
        state: r.try_get("state")?,
        reported_at: r.try_get("reported_at")?,
        report_ref: r.try_get("report_ref")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new complaint and its `complaint` journal record; durable when this returns.
    pub async fn insert_complaint(
        &self,
        c: &Complaint,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO complaints ({COMPLAINT_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&c.receipt)
        .bind(c.created_at)
        .bind(&c.category)
        .bind(&c.target_kind)
        .bind(&c.target)
        .bind(&c.description)
        .bind(c.contact_enc.clone())
        .bind(&c.lang)
        .bind(&c.state)
        .bind(c.due_at)
        .bind(c.updated_at)
        .bind(c.assignee.clone())
        .bind(c.action.clone())
        .bind(c.resolution.clone())
        .bind(c.user_id.clone())
        .bind(&c.record_id)
        .execute(&mut *tx)
        .await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One complaint by receipt code.
    pub async fn complaint(&self, receipt: &str) -> Result<Option<Complaint>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE receipt = $1"
        ))
        .bind(receipt)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(complaint_row).transpose()?)
    }

    /// Complaints, optionally in one state, oldest deadline first.
    pub async fn list_complaints(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Complaint>, StoreError> {
        let rows = match state {
            Some(s) => {
                sqlx::query(&format!(
                    "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE state = $1 \
                     ORDER BY due_at, receipt LIMIT $2"
                ))
                .bind(s)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COMPLAINT_COLUMNS} FROM complaints ORDER BY created_at DESC, receipt LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        Ok(rows.iter().map(complaint_row).collect::<Result<_, _>>()?)
    }

    /// Number of complaints per state, and how many open ones are past their deadline at `now_ms`.
    pub async fn complaint_counts(
        &self,
        now_ms: i64,
    ) -> Result<(Vec<(String, i64)>, i64), StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM complaints GROUP BY state ORDER BY state",
        )
        .fetch_all(self.pool())
        .await?;
        let mut by_state = Vec::new();
        for r in &rows {
            by_state.push((r.try_get("state")?, r.try_get("n")?));
        }
        let overdue: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM complaints \
             WHERE state IN ('received', 'in_review') AND due_at < $1",
        )
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((by_state, overdue))
    }

    /// The steps of one complaint, in order.
    pub async fn complaint_steps(&self, receipt: &str) -> Result<Vec<ComplaintStep>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, receipt, at, actor, from_state, to_state, action, note \
             FROM complaint_steps WHERE receipt = $1 ORDER BY at, id",
        )
        .bind(receipt)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(step_row).collect::<Result<_, _>>()?)
    }

    /// Applies one handling step: moves the complaint from `step.from_state` to
    /// `step.to_state` (refused with [`StoreError::Conflict`] when someone else moved it
    /// first), applies `update`, and writes the step and its journal record, all in one
    /// transaction.
    pub async fn complaint_step(
        &self,
        step: &ComplaintStep,
        update: &CaseUpdate,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE complaints SET state = $1, updated_at = $2, \
             assignee = COALESCE($3, assignee), action = COALESCE($4, action), \
             resolution = COALESCE($5, resolution), user_id = COALESCE($6, user_id) \
             WHERE receipt = $7 AND state = $8",
        )
        .bind(&step.to_state)
        .bind(step.at)
        .bind(update.assignee.clone())
        .bind(update.action.clone())
        .bind(update.resolution.clone())
        .bind(update.user_id.clone())
        .bind(&step.receipt)
        .bind(&step.from_state)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(StoreError::Conflict(
                "the complaint is no longer in the state this step starts from; reload the case",
            ));
        }
        sqlx::query(
            "INSERT INTO complaint_steps (id, receipt, at, actor, from_state, to_state, action, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&step.id)
        .bind(&step.receipt)
        .bind(step.at)
        .bind(&step.actor)
        .bind(&step.from_state)
        .bind(&step.to_state)
        .bind(step.action.clone())
        .bind(&step.note)
        .execute(&mut *tx)
        .await?;
        if let Some((produce_id, action)) = &update.withdraw {
            // A second takedown of the same content keeps the first (earliest) decision.
            let exists =
                sqlx::query("SELECT 1 AS one FROM withdrawn_content WHERE produce_id = $1")
                    .bind(produce_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if !exists {
                sqlx::query(
                    "INSERT INTO withdrawn_content (produce_id, receipt, action, at, actor) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(produce_id)
                .bind(&step.receipt)
                .bind(action)
                .bind(step.at)
                .bind(&step.actor)
                .execute(&mut *tx)
                .await?;
            }
        }
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a ProduceID was withdrawn, and how.
    pub async fn withdrawal(&self, produce_id: &str) -> Result<Option<Withdrawal>, StoreError> {
        let row = sqlx::query(
            "SELECT produce_id, receipt, action, at, actor FROM withdrawn_content WHERE produce_id = $1",
        )
        .bind(produce_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| -> Result<Withdrawal, sqlx::Error> {
                Ok(Withdrawal {
                    produce_id: r.try_get("produce_id")?,
                    receipt: r.try_get("receipt")?,
                    action: r.try_get("action")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                })
            })
            .transpose()?)
    }

    /// Records a lexicon entry proposed from a complaint, with its journal record.
    pub async fn insert_lexicon_proposal(
        &self,
        p: &LexiconProposal,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO lexicon_proposals (id, receipt, term, risk, state, created_at, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.receipt)
        .bind(&p.term)
        .bind(&p.risk)
        .bind(&p.state)
        .bind(p.created_at)
        .bind(&p.actor)
        .execute(&mut *tx)
        .await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts or rejects a proposed lexicon term (only while `proposed`), with its record.
    pub async fn decide_lexicon_proposal(
        &self,
        id: &str,
        state: &str,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE lexicon_proposals SET state = $1 WHERE id = $2 AND state = 'proposed'",
        )
        .bind(state)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(
                "no open proposal has this id (it was decided already, or never existed)",
            ));
        }
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lexicon proposals, newest first.
    pub async fn lexicon_proposals(&self, limit: i64) -> Result<Vec<LexiconProposal>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, receipt, term, risk, state, created_at, actor FROM lexicon_proposals \
             ORDER BY created_at DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(LexiconProposal {
                id: r.try_get("id")?,
                receipt: r.try_get("receipt")?,
                term: r.try_get("term")?,
                risk: r.try_get("risk")?,
                state: r.try_get("state")?,
                created_at: r.try_get("created_at")?,
                actor: r.try_get("actor")?,
            });
        }
        Ok(out)
    }

    /// Records a new incident and its first timeline entry.
    pub async fn insert_incident(
        &self,
        i: &Incident,
        first: &IncidentEvent,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&i.id)
        .bind(&i.title)
        .bind(&i.severity)
        .bind(i.occurred_at)
        .bind(i.detected_at)
        .bind(&i.impact)
        .bind(&i.measures)
        .bind(&i.state)
        .bind(i.reported_at)
        .bind(i.report_ref.clone())
        .bind(&i.created_by)
        .bind(i.created_at)
        .execute(&mut *tx)
        .await?;
        insert_incident_event(&mut tx, first).await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a timeline entry; `reported` sets the report time and reference, `closed` closes
    /// the incident, `measure` appends to the measures.
    pub async fn incident_event(
        &self,
        ev: &IncidentEvent,
        report_ref: Option<&str>,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = match ev.kind.as_str() {
            "reported" => {
                sqlx::query("UPDATE incidents SET reported_at = $1, report_ref = $2 WHERE id = $3")
                    .bind(ev.at)
                    .bind(report_ref.map(str::to_string))
                    .bind(&ev.incident_id)
            }
            "closed" => sqlx::query("UPDATE incidents SET state = 'closed' WHERE id = $1")
                .bind(&ev.incident_id),
            "measure" => {
                sqlx::query("UPDATE incidents SET measures = measures || $1 WHERE id = $2")
                    .bind(format!("\n{}", ev.note))
                    .bind(&ev.incident_id)
            }
            _ => sqlx::query("UPDATE incidents SET state = state WHERE id = $1")
                .bind(&ev.incident_id),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::NotFound {
                kind: "incident",
                id: ev.incident_id.clone(),
            });
        }
        insert_incident_event(&mut tx, ev).await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One incident.
    pub async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(incident_row).transpose()?)
    }

    /// Incidents, newest first.
    pub async fn incidents(&self, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY occurred_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(incident_row).collect::<Result<_, _>>()?)
    }

    /// An incident's timeline, in order.
    pub async fn incident_events(&self, id: &str) -> Result<Vec<IncidentEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, at, actor, kind, note FROM incident_events \
             WHERE incident_id = $1 ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(IncidentEvent {
                id: r.try_get("id")?,
                incident_id: r.try_get("incident_id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                note: r.try_get("note")?,
            });
        }
        Ok(out)
    }
}

async fn insert_incident_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ev: &IncidentEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO incident_events (id, incident_id, at, actor, kind, note) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&ev.id)
    .bind(&ev.incident_id)
    .bind(ev.at)
    .bind(&ev.actor)
    .bind(&ev.kind)
    .bind(&ev.note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
