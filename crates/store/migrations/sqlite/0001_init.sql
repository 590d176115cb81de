-- SQLite dialect; ../postgres/0001_init.sql is the same schema for PostgreSQL: keep them in step.
-- Accounts: a pseudonymous id; no personal information is stored here.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    external_ref  TEXT,
    suspended     BIGINT NOT NULL DEFAULT 0,
    verified      BIGINT NOT NULL DEFAULT 0,
    verified_at   BIGINT,
    created_at    BIGINT NOT NULL
);

-- API keys are stored as SHA-256 of the secret; the secret is shown once at creation.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    hash        TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- Every operator action on an account, with who did it and why.
CREATE TABLE user_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id  TEXT NOT NULL REFERENCES users(id),
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    actor    TEXT NOT NULL
);
CREATE INDEX user_events_user ON user_events(user_id);

-- One row per request; `record` is the canonical encoding, `content_hash` its SHA-256.
CREATE TABLE interactions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    received_at   BIGINT NOT NULL,
    user_id       TEXT,
    model         TEXT,
    outcome       TEXT NOT NULL,
    status        BIGINT NOT NULL,
    produce_id    TEXT,
    content_hash  TEXT NOT NULL,
    record        TEXT NOT NULL
);
CREATE INDEX interactions_time ON interactions(received_at);
CREATE INDEX interactions_user ON interactions(user_id, received_at);
CREATE INDEX interactions_produce ON interactions(produce_id);
