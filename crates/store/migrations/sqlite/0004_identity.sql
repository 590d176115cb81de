-- Real-name verification and personal-information protection (identity issue).
-- SQLite dialect; ../postgres/0004_identity.sql is the same schema: keep them in step.
--
-- No plaintext phone or ID number is ever stored: `*_enc` columns hold AEAD ciphertexts
-- (`v1:<key id>:<base64>`, bound to the user and field), `*_index` an HMAC blind index for
-- uniqueness and lookup, `*_masked` the display form (138****5678).

-- `person` or `organisation`; deleted accounts keep their pseudonymous row (records point to it).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';
ALTER TABLE users ADD COLUMN org_code TEXT;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

CREATE TABLE identities (
    user_id            TEXT PRIMARY KEY REFERENCES users(id),
    phone_enc          TEXT,
    phone_index        TEXT UNIQUE,
    phone_masked       TEXT,
    phone_verified_at  BIGINT,
    phone_method       TEXT,
    id_enc             TEXT,
    id_index           TEXT UNIQUE,
    id_masked          TEXT,
    id_verified_at     BIGINT,
    id_method          TEXT,
    -- The day the user turns 18, kept only while verified as a minor (minimisation: no birth date).
    minor_until        TEXT
);

-- Accounts an operator had marked verified keep both factors, as operator verifications.
INSERT INTO identities (user_id, phone_verified_at, phone_method, id_verified_at, id_method)
    SELECT id, verified_at, 'operator', verified_at, 'operator' FROM users WHERE verified <> 0;

-- One-time codes: only an HMAC of the code is kept; the phone travels encrypted.
CREATE TABLE otp_challenges (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    phone_enc     TEXT NOT NULL,
    phone_index   TEXT NOT NULL,
    ip_index      TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    consumed_at   BIGINT
);
CREATE INDEX otp_user ON otp_challenges(user_id, created_at);
CREATE INDEX otp_phone ON otp_challenges(phone_index, created_at);
CREATE INDEX otp_ip ON otp_challenges(ip_index, created_at);

-- Separate consent (PIPL Art. 29) with the version and hash of the text the user agreed to.
CREATE TABLE consents (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT NOT NULL REFERENCES users(id),
    purpose       TEXT NOT NULL,
    text_version  TEXT NOT NULL,
    text_sha256   TEXT NOT NULL,
    given_at      BIGINT NOT NULL,
    withdrawn_at  BIGINT
);
CREATE INDEX consents_user ON consents(user_id, purpose);
