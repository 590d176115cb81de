-- SQLite dialect; ../postgres/0002_ledger.sql is the same schema for PostgreSQL: keep them in step.

-- Every compliance record of every kind, in one total order (seq). The content (`record`, the
-- canonical encoding) and its `salt` live here and can be erased at the end of retention; the
-- Merkle leaf commits to SHA-256(salt || record) (`commitment`), so proofs survive erasure.
CREATE TABLE journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    record       TEXT,
    salt         TEXT,
    commitment   TEXT,
    leaf_index   BIGINT UNIQUE,
    purged_at    BIGINT,
    purge_reason TEXT
);
CREATE INDEX journal_pending ON journal(leaf_index, seq);
CREATE INDEX journal_kind_time ON journal(kind, created_at);

-- Existing interaction content moves to the journal; the sequencer salts and commits it.
INSERT INTO journal (id, kind, created_at, record)
    SELECT id, 'interaction', received_at, record FROM interactions ORDER BY seq;
ALTER TABLE interactions DROP COLUMN record;

-- The Merkle tree: leaves in log order and every perfect-subtree node.
CREATE TABLE ledger_leaves (
    idx         BIGINT PRIMARY KEY,
    record_id   TEXT NOT NULL UNIQUE,
    data        TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TABLE ledger_nodes (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
-- Signed checkpoints (C2SP signed notes) as issued.
CREATE TABLE ledger_checkpoints (
    size        BIGINT PRIMARY KEY,
    root        TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
-- Legal holds block erasure of what they cover (a user's records, or one record).
CREATE TABLE legal_holds (
    id           TEXT PRIMARY KEY,
    user_id      TEXT,
    record_id    TEXT,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    released_at  BIGINT
);
