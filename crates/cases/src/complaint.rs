//! Complaints: validation, receipts, deadlines and the handling workflow.

use std::sync::Arc;

use hegui_identity::validate::FieldError;
use hegui_identity::{Field, PiKeys};
use hegui_store::{
    CaseUpdate, Complaint, ComplaintStep, LexiconProposal, RecordQuery, Store, StoreError,
};
use hegui_types::{kinds, JournalEntry};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Longest target (ProduceID, interaction id or excerpt), in characters.
const MAX_TARGET_CHARS: usize = 2000;
/// Longest contact, in characters.
const MAX_CONTACT_CHARS: usize = 200;
/// Longest reason a staff member writes, in characters.
const MAX_REASON_CHARS: usize = 5000;

/// What a complaint is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Category {
    /// One of the 31 TC260-003 risks (`A1-4`, ...).
    Risk(String),
    /// The complainant's own rights (portrait, reputation, privacy, IP).
    Rights,
    /// Personal information (PIPL requests and leaks).
    PersonalInfo,
    /// Anything else.
    Other,
}

impl Category {
    /// Parses the form value: a TC260 risk code, `rights`, `personal_info` or `other`.
    pub fn parse(s: &str) -> Option<Category> {
        match s {
            "rights" => Some(Category::Rights),
            "personal_info" => Some(Category::PersonalInfo),
            "other" => Some(Category::Other),
            code => hegui_policy::taxonomy::risk(code).map(|r| Category::Risk(r.code.to_string())),
        }
    }

    /// The stored value.
    pub fn as_str(&self) -> &str {
        match self {
            Category::Risk(c) => c,
            Category::Rights => "rights",
            Category::PersonalInfo => "personal_info",
            Category::Other => "other",
        }
    }

    /// Every category a complainant can choose, with Chinese and English names.
    pub fn choices() -> Vec<(String, &'static str, &'static str)> {
        let mut out: Vec<(String, &'static str, &'static str)> = hegui_policy::taxonomy::ALL
            .iter()
            .map(|r| (r.code.to_string(), r.zh, r.en))
            .collect();
        out.push((
            "rights".into(),
            "侵犯本人合法权益（肖像、名誉、隐私、知识产权）",
            "Infringes my rights (portrait, reputation, privacy, IP)",
        ));
        out.push(("personal_info".into(), "个人信息", "Personal information"));
        out.push(("other".into(), "其他", "Other"));
        out
    }
}

/// How the complainant names the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TargetKind {
    /// The `ProduceID` from a GB 45438 label.
    ProduceId,
    /// An interaction id (`X-Request-Id` / record id).
    Interaction,
    /// An excerpt of the content.
    Excerpt,
}

impl TargetKind {
    /// Parses `produce_id`, `interaction` or `excerpt`.
    pub fn parse(s: &str) -> Option<TargetKind> {
        match s {
            "produce_id" => Some(TargetKind::ProduceId),
            "interaction" => Some(TargetKind::Interaction),
            "excerpt" => Some(TargetKind::Excerpt),
            _ => None,
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::ProduceId => "produce_id",
            TargetKind::Interaction => "interaction",
            TargetKind::Excerpt => "excerpt",
        }
    }
}

/// Where a complaint is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    /// Filed, not yet picked up.
    Received,
    /// A reviewer is looking at it.
    InReview,
    /// Acted upon.
    Resolved,
    /// Not upheld, with reasons.
    Rejected,
}

impl State {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::InReview => "in_review",
            State::Resolved => "resolved",
            State::Rejected => "rejected",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "received" => Some(State::Received),
            "in_review" => Some(State::InReview),
            "resolved" => Some(State::Resolved),
            "rejected" => Some(State::Rejected),
            _ => None,
        }
    }
}

/// What resolving a complaint does to the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    /// Take the content down.
    Delete,
    /// Correct it (the corrected version replaces it).
    Correct,
    /// Restrict its dissemination.
    Restrict,
}

impl Action {
    /// Parses `delete`, `correct` or `restrict`.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "delete" => Some(Action::Delete),
            "correct" => Some(Action::Correct),
            "restrict" => Some(Action::Restrict),
            _ => None,
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Correct => "correct",
            Action::Restrict => "restrict",
        }
    }
}

/// Deadline for a decision per category, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Illegal content (TC260 A1): act at once.
    pub illegal_hours: i64,
    /// Other TC260 risks (A2–A5).
    pub risk_hours: i64,
    /// Infringement of the complainant's rights.
    pub rights_hours: i64,
    /// Personal-information requests (PIPL: promptly; 15 working days is the common ceiling).
    pub personal_info_hours: i64,
    /// Everything else.
    pub other_hours: i64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            illegal_hours: 24,
            risk_hours: 72,
            rights_hours: 7 * 24,
            personal_info_hours: 15 * 24,
            other_hours: 7 * 24,
        }
    }
}

impl Deadlines {
    /// Hours allowed for `category`.
    pub fn hours(&self, category: &Category) -> i64 {
        match category {
            Category::Risk(c) if c.starts_with("A1") => self.illegal_hours,
            Category::Risk(_) => self.risk_hours,
            Category::Rights => self.rights_hours,
            Category::PersonalInfo => self.personal_info_hours,
            Category::Other => self.other_hours,
        }
    }
}

/// A complaint as the public form or API submits it (raw strings, validated here).
#[derive(Debug, Clone, Default)]
pub struct NewComplaint {
    /// Category value.
    pub category: String,
    /// `produce_id`, `interaction` or `excerpt`.
    pub target_kind: String,
    /// The ProduceID, interaction id or excerpt.
    pub target: String,
    /// What is wrong.
    pub description: String,
    /// Optional contact.
    pub contact: String,
    /// `zh` or `en`.
    pub lang: String,
}

/// How a reviewer resolves a complaint.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// What happens to the content.
    pub action: Option<Action>,
    /// The reasons (shown to the complainant).
    pub reason: String,
    /// Suspend the user behind the content.
    pub suspend_user: bool,
    /// Propose this lexicon term (with the complaint's risk code).
    pub propose_term: Option<String>,
}

/// What the complainant sees when following a case by receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicStatus {
    /// The receipt code.
    pub receipt: String,
    /// Current state.
    pub state: String,
    /// Category.
    pub category: String,
    /// Filed at (Unix ms).
    pub created_at: i64,
    /// Decision due by (Unix ms).
    pub due_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// Action taken, once resolved.
    pub action: Option<String>,
    /// Reasons, once decided.
    pub resolution: Option<String>,
    /// Steps so far: (time, state).
    pub history: Vec<(i64, String)>,
}

/// Why a complaint operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The input is invalid; every problem is listed.
    #[error("invalid complaint: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No complaint has this receipt code.
    #[error("no complaint has the receipt code {0:?}; check the code on your receipt")]
    UnknownReceipt(String),
    /// The step does not apply in the complaint's current state.
    #[error("{0}")]
    WrongState(String),
    /// Storage failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the complaint workflow.
pub struct CaseService {
    store: Store,
    keys: Arc<PiKeys>,
    deadlines: Deadlines,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A receipt code: `HG-` and 12 characters of Crockford base32 (60 random bits) in groups of
/// four, easy to read aloud and to type (no I, L, O, U).
pub fn new_receipt() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!(
        "HG-{}-{}-{}",
        chars[0..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..12].iter().collect::<String>()
    )
}

/// Normalises a receipt as typed (case, spaces, missing dashes, look-alike letters).
pub fn normalise_receipt(input: &str) -> Option<String> {
    let mut chars: Vec<char> = input
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if chars.len() == 14 && chars[0] == 'H' && chars[1] == 'G' {
        chars.drain(0..2);
    }
    if chars.len() != 12 || !chars.iter().all(|c| c.is_ascii_alphanumeric() && *c != 'U') {
        return None;
    }
    let s: String = chars.into_iter().collect();
    Some(format!("HG-{}-{}-{}", &s[0..4], &s[4..8], &s[8..12]))
}

fn check_len(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) {
    let n = value.chars().count();
    if required && value.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    } else if n > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has {n} characters; at most {max} are accepted — shorten it"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        errors.push(FieldError::new(
            field,
            "control_characters",
            format!("{field} contains control characters; remove them"),
        ));
    }
}

impl NewComplaint {
    /// Checks every field; returns the typed category and target kind or every problem.
    pub fn validate(&self) -> Result<(Category, TargetKind), Vec<FieldError>> {
        let mut errors = Vec::new();
        let category = Category::parse(self.category.trim());
        if category.is_none() {
            errors.push(FieldError::new(
                "category",
                "unknown",
                "choose a category from the list (a TC260 risk code such as A1-4, rights, personal_info or other)",
            ));
        }
        let kind = TargetKind::parse(self.target_kind.trim());
        if kind.is_none() {
            errors.push(FieldError::new(
                "target_kind",
                "unknown",
                "say how you name the content: produce_id, interaction or excerpt",
            ));
        }
        check_len(&mut errors, "target", &self.target, MAX_TARGET_CHARS, true);
        if matches!(kind, Some(TargetKind::ProduceId | TargetKind::Interaction))
            && !self.target.trim().is_empty()
            && !self
                .target
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        {
            errors.push(FieldError::new(
                "target",
                "id_characters",
                "a ProduceID or interaction id has only letters, digits, '-', '_', ':' and '.'; paste it exactly as shown, or choose 'excerpt'",
            ));
        }
        check_len(
            &mut errors,
            "description",
            &self.description,
            MAX_DESCRIPTION_CHARS,
            true,
        );
        check_len(
            &mut errors,
            "contact",
            &self.contact,
            MAX_CONTACT_CHARS,
            false,
        );
        if !matches!(self.lang.as_str(), "zh" | "en" | "") {
            errors.push(FieldError::new("lang", "unknown", "lang is zh or en"));
        }
        match (category, kind) {
            (Some(c), Some(k)) if errors.is_empty() => Ok((c, k)),
            _ => Err(errors),
        }
    }
}

impl CaseService {
    /// A service over `store`; contacts are encrypted with `keys`.
    pub fn new(store: Store, keys: Arc<PiKeys>, deadlines: Deadlines) -> CaseService {
        CaseService {
            store,
            keys,
            deadlines,
        }
    }

    /// The store (for the console's read-only views).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Files a complaint; durable (row and journal record) when this returns its receipt.
    pub async fn file(&self, input: &NewComplaint) -> Result<Complaint, CaseError> {
        let (category, kind) = input.validate().map_err(CaseError::Invalid)?;
        let now = now_ms();
        let receipt = new_receipt();
        let target = input.target.trim().to_string();
        let user_id = self.user_behind(kind, &target).await?;
        let contact = input.contact.trim();
        let contact_enc =
            (!contact.is_empty()).then(|| self.keys.encrypt(Field::Contact, &receipt, contact));
        let description = input.description.trim().to_string();
        let entry = JournalEntry::new(
            kinds::COMPLAINT,
            "public",
            serde_json::json!({
                "receipt": receipt,
                "category": category.as_str(),
                "target_kind": kind.as_str(),
                "target": target,
                "description_hash": hex::encode(Sha256::digest(description.as_bytes())),
                "contact_given": contact_enc.is_some(),
            }),
        );
        let c = Complaint {
            receipt,
            created_at: now,
            category: category.as_str().to_string(),
            target_kind: kind.as_str().to_string(),
            target,
            description,
            contact_enc,
            lang: if input.lang == "en" { "en" } else { "zh" }.into(),
            state: State::Received.as_str().into(),
            due_at: now + self.deadlines.hours(&category) * 3_600_000,
            updated_at: now,
            assignee: None,
            action: None,
            resolution: None,
            user_id,
            record_id: entry.id.clone(),
        };
        self.store.insert_complaint(&c, &entry).await?;
        Ok(c)
    }

    /// The user behind a ProduceID or interaction id, if the records know it.
    async fn user_behind(
        &self,
        kind: TargetKind,
        target: &str,
    ) -> Result<Option<String>, CaseError> {
        let row = match kind {
            TargetKind::Excerpt => return Ok(None),
            TargetKind::ProduceId => self
                .store
                .list_records(&RecordQuery {
                    produce_id: Some(target.to_string()),
                    limit: Some(1),
                    ..RecordQuery::default()
                })
                .await?
                .into_iter()
                .next(),
            TargetKind::Interaction => self.store.record(target).await?,
        };
        Ok(row.and_then(|r| r.record).and_then(|r| r.user_id))
    }

    /// A complaint by receipt code (as typed by a person: normalised first).
    pub async fn get(&self, receipt: &str) -> Result<Complaint, CaseError> {
        let code = normalise_receipt(receipt)
            .ok_or_else(|| CaseError::UnknownReceipt(receipt.chars().take(40).collect()))?;
        self.store
            .complaint(&code)
            .await?
            .ok_or(CaseError::UnknownReceipt(code))
    }

    /// What the complainant may see about their case.
    pub async fn public_status(&self, receipt: &str) -> Result<PublicStatus, CaseError> {
        let c = self.get(receipt).await?;
        let steps = self.store.complaint_steps(&c.receipt).await?;
        let mut history = vec![(c.created_at, State::Received.as_str().to_string())];
        history.extend(steps.into_iter().map(|s| (s.at, s.to_state)));
        Ok(PublicStatus {
            receipt: c.receipt,
            state: c.state,
            category: c.category,
            created_at: c.created_at,
            due_at: c.due_at,
            updated_at: c.updated_at,
            action: c.action,
            resolution: c.resolution,
            history,
        })
    }

    /// The complainant's contact, decrypted (for staff who must reply).
    pub fn contact(&self, c: &Complaint) -> Option<String> {
        c.contact_enc
            .as_deref()
            .and_then(|e| self.keys.decrypt(Field::Contact, &c.receipt, e).ok())
    }

    /// A reviewer takes the complaint: `received → in_review`.
    pub async fn start_review(&self, receipt: &str, actor: &str) -> Result<Complaint, CaseError> {
        let c = self.get(receipt).await?;
        if c.state != State::Received.as_str() {
            return Err(CaseError::WrongState(format!(
                "complaint {} is {}, not received; only a received complaint can be taken into review",
                c.receipt, c.state
            )));
        }
        self.step(
            &c,
            actor,
            State::InReview,
            None,
            "taken into review",
            CaseUpdate {
                assignee: Some(actor.to_string()),
                ..CaseUpdate::default()
            },
        )
        .await?;
        self.get(&c.receipt).await
    }

    /// Resolves an in-review complaint: withdraws the content, suspends the user, proposes a
    /// term, as asked; each effect is recorded.
    pub async fn resolve(
        &self,
        receipt: &str,
        actor: &str,
        r: &Resolution,
    ) -> Result<Complaint, CaseError> {
        let c = self.get(receipt).await?;
        self.require_in_review(&c)?;
        let mut errors = Vec::new();
        check_len(&mut errors, "reason", &r.reason, MAX_REASON_CHARS, true);
        if let Some(t) = &r.propose_term {
            check_len(&mut errors, "propose_term", t, 100, true);
            if !c.category.starts_with('A') {
                errors.push(FieldError::new(
                    "propose_term",
                    "needs_risk",
                    "a lexicon term can only be proposed for a complaint filed under a TC260 risk",
                ));
            }
        }
        if r.suspend_user && c.user_id.is_none() {
            errors.push(FieldError::new(
                "suspend_user",
                "unknown_user",
                "no user is known behind this content (the complaint names an excerpt or an unknown id); suspend from the users page instead",
            ));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let withdraw = match (r.action, c.target_kind.as_str()) {
            (Some(a), "produce_id") => Some((c.target.clone(), a.as_str().to_string())),
            (Some(a), "interaction") => self
                .store
                .record(&c.target)
                .await?
                .and_then(|row| row.record)
                .and_then(|rec| rec.label.map(|l| (l.produce_id, a.as_str().to_string()))),
            _ => None,
        };
        self.step(
            &c,
            actor,
            State::Resolved,
            r.action.map(Action::as_str),
            &r.reason,
            CaseUpdate {
                action: Some(r.action.map_or("none", Action::as_str).to_string()),
                resolution: Some(r.reason.trim().to_string()),
                withdraw,
                ..CaseUpdate::default()
            },
        )
        .await?;
        if r.suspend_user {
            if let Some(user) = &c.user_id {
                self.store
                    .set_suspended(
                        user,
                        true,
                        &format!("complaint {}: {}", c.receipt, r.reason.trim()),
                        actor,
                    )
                    .await?;
            }
        }
        if let Some(term) = &r.propose_term {
            let p = LexiconProposal {
                id: uuid::Uuid::now_v7().to_string(),
                receipt: c.receipt.clone(),
                term: term.trim().to_string(),
                risk: c.category.clone(),
                state: "proposed".into(),
                created_at: now_ms(),
                actor: actor.to_string(),
            };
            let entry = JournalEntry::new(
                kinds::STAFF_ACTION,
                actor,
                serde_json::json!({
                    "action": "propose_lexicon_term",
                    "target": c.receipt,
                    "details": {"proposal": p.id, "risk": p.risk, "term_sha256": hex::encode(Sha256::digest(p.term.as_bytes()))},
                }),
            );
            self.store.insert_lexicon_proposal(&p, &entry).await?;
        }
        self.get(&c.receipt).await
    }

    /// Rejects an in-review complaint with reasons.
    pub async fn reject(
        &self,
        receipt: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Complaint, CaseError> {
        let c = self.get(receipt).await?;
        self.require_in_review(&c)?;
        let mut errors = Vec::new();
        check_len(&mut errors, "reason", reason, MAX_REASON_CHARS, true);
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        self.step(
            &c,
            actor,
            State::Rejected,
            None,
            reason,
            CaseUpdate {
                resolution: Some(reason.trim().to_string()),
                ..CaseUpdate::default()
            },
        )
        .await?;
        self.get(&c.receipt).await
    }

    fn require_in_review(&self, c: &Complaint) -> Result<(), CaseError> {
        if c.state != State::InReview.as_str() {
            return Err(CaseError::WrongState(format!(
                "complaint {} is {}; take it into review before deciding",
                c.receipt, c.state
            )));
        }
        Ok(())
    }

    async fn step(
        &self,
        c: &Complaint,
        actor: &str,
        to: State,
        action: Option<&str>,
        note: &str,
        update: CaseUpdate,
    ) -> Result<(), CaseError> {
        let entry = JournalEntry::new(
            kinds::COMPLAINT_STEP,
            actor,
            serde_json::json!({
                "receipt": c.receipt,
                "from_state": c.state,
                "to_state": to.as_str(),
                "action": action,
                "reason": note.trim(),
                "withdrawn": update.withdraw.as_ref().map(|(p, _)| p),
            }),
        );
        let step = ComplaintStep {
            id: entry.id.clone(),
            receipt: c.receipt.clone(),
            at: entry.at_ms,
            actor: actor.to_string(),
            from_state: c.state.clone(),
            to_state: to.as_str().to_string(),
            action: action.map(str::to_string),
            note: note.trim().to_string(),
        };
        match self.store.complaint_step(&step, &update, &entry).await {
            Err(StoreError::Conflict(m)) => Err(CaseError::WrongState(m.to_string())),
            other => Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_well_formed_and_normalise_as_typed() {
        let r = new_receipt();
        assert_eq!(r.len(), 17, "{r}");
        assert_eq!(normalise_receipt(&r).as_deref(), Some(r.as_str()));
        let typed = r.to_lowercase().replace('-', " ");
        assert_eq!(normalise_receipt(&typed).as_deref(), Some(r.as_str()));
        assert_eq!(
            normalise_receipt("hg-0o1i-ABCD-EFGH").as_deref(),
            Some("HG-0011-ABCD-EFGH")
        );
        assert_eq!(normalise_receipt("HG-1234"), None);
        assert_eq!(normalise_receipt("<script>"), None);
    }

    #[test]
    fn validation_lists_every_problem() {
        let bad = NewComplaint {
            category: "A9-9".into(),
            target_kind: "url".into(),
            target: "".into(),
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            contact: "a\u{0}b".into(),
            lang: "fr".into(),
        };
        let errs = bad.validate().unwrap_err();
        let rules: Vec<_> = errs.iter().map(|e| (e.field, e.rule)).collect();
        assert_eq!(
            rules,
            vec![
                ("category", "unknown"),
                ("target_kind", "unknown"),
                ("target", "required"),
                ("description", "too_long"),
                ("contact", "control_characters"),
                ("lang", "unknown"),
            ]
        );
        let ok = NewComplaint {
            category: "A1-4".into(),
            target_kind: "produce_id".into(),
            target: "0190-abc".into(),
            description: "宣扬恐怖主义".into(),
            contact: String::new(),
            lang: "zh".into(),
        };
        assert_eq!(
            ok.validate().unwrap(),
            (Category::Risk("A1-4".into()), TargetKind::ProduceId)
        );
        let id_with_space = NewComplaint {
            target: "abc def".into(),
            ..ok
        };
        assert_eq!(
            id_with_space.validate().unwrap_err()[0].rule,
            "id_characters"
        );
    }

    #[test]
    fn deadlines_follow_the_category() {
        let d = Deadlines::default();
        assert_eq!(d.hours(&Category::Risk("A1-1".into())), 24);
        assert_eq!(d.hours(&Category::Risk("A2-5".into())), 72);
        assert_eq!(d.hours(&Category::PersonalInfo), 360);
    }
}
