-- SQLite dialect; ../postgres/0005_cases.sql is the same schema for PostgreSQL: keep them in step.
-- Complaints from the public (Articles 4 and 14). The description may hold personal
-- information the complainant chose to give; the contact is encrypted with the PI keys.
CREATE TABLE complaints (
    receipt       TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    category      TEXT NOT NULL,
    target_kind   TEXT NOT NULL,
    target        TEXT NOT NULL,
    description   TEXT NOT NULL,
    contact_enc   TEXT,
    lang          TEXT NOT NULL,
    state         TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    assignee      TEXT,
    action        TEXT,
    resolution    TEXT,
    user_id       TEXT,
    record_id     TEXT NOT NULL
);
CREATE INDEX complaints_state ON complaints(state, due_at);
CREATE INDEX complaints_target ON complaints(target);

-- Every step of handling, with who did it (each is also a complaint_step journal record).
CREATE TABLE complaint_steps (
    id          TEXT PRIMARY KEY,
    receipt     TEXT NOT NULL REFERENCES complaints(receipt),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    action      TEXT,
    note        TEXT NOT NULL
);
CREATE INDEX complaint_steps_receipt ON complaint_steps(receipt, at);

-- Content taken down or restricted: label inspection and the API report it as withdrawn.
CREATE TABLE withdrawn_content (
    produce_id  TEXT PRIMARY KEY,
    receipt     TEXT NOT NULL,
    action      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL
);

-- Lexicon entries proposed from complaints, for a compliance officer to review.
CREATE TABLE lexicon_proposals (
    id          TEXT PRIMARY KEY,
    receipt     TEXT NOT NULL,
    term        TEXT NOT NULL,
    risk        TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    actor       TEXT NOT NULL
);

-- Compliance staff (Article 17) and their sessions. Passwords as Argon2id PHC strings;
-- session tokens as SHA-256.
CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT,
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   BIGINT
);

CREATE TABLE staff_sessions (
    token_hash    TEXT PRIMARY KEY,
    staff_id      TEXT NOT NULL REFERENCES staff(id),
    csrf          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);

-- Serious incidents and their timelines.
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    severity     TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    detected_at  BIGINT NOT NULL,
    impact       TEXT NOT NULL,
    measures     TEXT NOT NULL,
    state        TEXT NOT NULL,
    reported_at  BIGINT,
    report_ref   TEXT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE incident_events (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents(id),
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    note         TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, at);
