//! Serious incidents: what happened, when, its impact, the measures taken and the report to
//! the regulator, each step on a timeline recorded in the tamper-evident log.

use hegui_identity::validate::FieldError;
use hegui_store::{Incident, IncidentEvent, Store};
use hegui_types::{kinds, JournalEntry};

use crate::CaseError;

/// A new incident as entered by staff.
#[derive(Debug, Clone, Default)]
pub struct IncidentInput {
    /// Short title.
    pub title: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// When it happened (Unix ms).
    pub occurred_at: i64,
    /// When it was noticed (Unix ms).
    pub detected_at: i64,
    /// Impact.
    pub impact: String,
    /// Measures taken so far.
    pub measures: String,
}

/// Timeline entry kinds staff may add.
pub const EVENT_KINDS: [&str; 4] = ["update", "measure", "reported", "closed"];

/// Records incidents.
pub struct IncidentService {
    store: Store,
}

fn required(errors: &mut Vec<FieldError>, field: &'static str, v: &str, max: usize) {
    if v.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {max} characters; shorten it"),
        ));
    }
}

impl IncidentService {
    /// A service over `store`.
    pub fn new(store: Store) -> IncidentService {
        IncidentService { store }
    }

    /// Records a new incident.
    pub async fn open(&self, input: &IncidentInput, actor: &str) -> Result<Incident, CaseError> {
        let mut errors = Vec::new();
        required(&mut errors, "title", &input.title, 200);
        required(&mut errors, "impact", &input.impact, 5000);
        if input.measures.chars().count() > 5000 {
            errors.push(FieldError::new(
                "measures",
                "too_long",
                "measures is longer than 5000 characters; shorten it",
            ));
        }
        if !matches!(
            input.severity.as_str(),
            "low" | "medium" | "high" | "critical"
        ) {
            errors.push(FieldError::new(
                "severity",
                "unknown",
                "severity is low, medium, high or critical",
            ));
        }
        if input.detected_at < input.occurred_at {
            errors.push(FieldError::new(
                "detected_at",
                "before_occurrence",
                "an incident cannot be detected before it occurred; check both times",
            ));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let id = format!("inc_{}", uuid::Uuid::now_v7().simple());
        let incident = Incident {
            id: id.clone(),
            title: input.title.trim().into(),
            severity: input.severity.clone(),
            occurred_at: input.occurred_at,
            detected_at: input.detected_at,
            impact: input.impact.trim().into(),
            measures: input.measures.trim().into(),
            state: "open".into(),
            reported_at: None,
            report_ref: None,
            created_by: actor.into(),
            created_at: now,
        };
        let entry = JournalEntry::new(
            kinds::INCIDENT,
            actor,
            serde_json::json!({
                "incident_id": id,
                "event": "opened",
                "title": incident.title,
                "severity": incident.severity,
                "occurred_at": incident.occurred_at,
                "detected_at": incident.detected_at,
                "impact": incident.impact,
                "measures": incident.measures,
            }),
        );
        let ev = IncidentEvent {
            id: entry.id.clone(),
            incident_id: id,
            at: now,
            actor: actor.into(),
            kind: "opened".into(),
            note: incident.title.clone(),
        };
        self.store.insert_incident(&incident, &ev, &entry).await?;
        Ok(incident)
    }

    /// Adds a timeline entry (`update`, `measure`, `reported` with the regulator's reference,
    /// `closed`).
    pub async fn add_event(
        &self,
        incident_id: &str,
        kind: &str,
        note: &str,
        report_ref: Option<&str>,
        actor: &str,
    ) -> Result<IncidentEvent, CaseError> {
        let mut errors = Vec::new();
        if !EVENT_KINDS.contains(&kind) {
            errors.push(FieldError::new(
                "kind",
                "unknown",
                "kind is update, measure, reported or closed",
            ));
        }
        required(&mut errors, "note", note, 5000);
        if kind == "reported" && report_ref.is_none_or(|r| r.trim().is_empty()) {
            errors.push(FieldError::new(
                "report_ref",
                "required",
                "give the reference the regulator assigned to the report",
            ));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let entry = JournalEntry::new(
            kinds::INCIDENT,
            actor,
            serde_json::json!({
                "incident_id": incident_id,
                "event": kind,
                "note": note.trim(),
                "report_ref": report_ref,
            }),
        );
        let ev = IncidentEvent {
            id: entry.id.clone(),
            incident_id: incident_id.into(),
            at: entry.at_ms,
            actor: actor.into(),
            kind: kind.into(),
            note: note.trim().into(),
        };
        self.store
            .incident_event(&ev, report_ref.map(str::trim), &entry)
            .await?;
        Ok(ev)
    }

    /// A report of one incident (Markdown), for the regulator.
    pub async fn report(&self, incident_id: &str) -> Result<String, CaseError> {
        let Some(i) = self.store.incident(incident_id).await? else {
            return Err(CaseError::WrongState(format!(
                "no incident {incident_id:?}; list them on the incidents page"
            )));
        };
        let events = self.store.incident_events(incident_id).await?;
        let t = china_time;
        let mut out = format!(
            "# 安全事件报告 / Incident report: {}\n\n\
             - ID: {}\n- 严重程度 / Severity: {}\n- 发生时间 / Occurred: {}\n- 发现时间 / Detected: {}\n\
             - 状态 / State: {}\n- 报告监管部门 / Reported: {}\n\n\
             ## 影响 / Impact\n\n{}\n\n## 处置措施 / Measures\n\n{}\n\n## 时间线 / Timeline\n\n",
            i.title,
            i.id,
            i.severity,
            t(i.occurred_at),
            t(i.detected_at),
            i.state,
            match (i.reported_at, &i.report_ref) {
                (Some(at), Some(r)) => format!("{} ({r})", t(at)),
                _ => "no / 未报告".into(),
            },
            i.impact,
            i.measures,
        );
        for e in events {
            out.push_str(&format!(
                "- {} — {} — {}: {}\n",
                t(e.at),
                e.actor,
                e.kind,
                e.note
            ));
        }
        Ok(out)
    }
}

/// A Unix ms time as China Standard Time (UTC+8), for reports.
pub fn china_time(ms: i64) -> String {
    match (
        chrono::DateTime::from_timestamp_millis(ms),
        chrono::FixedOffset::east_opt(8 * 3600),
    ) {
        (Some(d), Some(cst)) => d
            .with_timezone(&cst)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        _ => ms.to_string(),
    }
}
