-- SQLite dialect; ../postgres/0010_user_activity.sql is its PostgreSQL counterpart (nothing
-- to change there: PostgreSQL keeps the index and answers per-user questions from it).
--
-- The per-user index on interactions goes; two small summaries answer what it was read for
-- (src/activity.rs says how and why). This builds them from every row there is, with the
-- statements the record writer folds new rows with (a test keeps them the same), and drops
-- the index. On an existing log the fold reads the whole table once.

CREATE TABLE user_days (
    day       INTEGER NOT NULL,
    user_id   TEXT NOT NULL,
    requests  INTEGER NOT NULL,
    flagged   INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) WITHOUT ROWID;

CREATE TABLE user_activity (
    user_id    TEXT PRIMARY KEY,
    total      INTEGER NOT NULL,
    streak     INTEGER NOT NULL,
    first_seq  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE user_activity_mark (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL
);
INSERT INTO user_activity_mark (one, seq) VALUES (1, 0);

INSERT INTO user_days (day, user_id, requests, flagged) SELECT (CASE WHEN received_at + 28800000
>= 0 THEN (received_at + 28800000) / 86400000 ELSE -((-(received_at + 28800000) - 1) / 86400000)
- 1 END), user_id, COUNT(*), SUM((CASE WHEN input_action IN ('flag', 'mask', 'block',
'safe_answer') THEN 1 ELSE 0 END)) FROM interactions WHERE seq > (SELECT seq FROM
user_activity_mark) AND user_id IS NOT NULL GROUP BY 1, 2 ON CONFLICT (day, user_id) DO UPDATE
SET requests = requests + excluded.requests, flagged = flagged + excluded.flagged;

INSERT INTO user_activity (user_id, total, streak, first_seq) SELECT t.user_id, COUNT(*),
SUM(t.seq > COALESCE(g.last_ok, 0)), MIN(t.seq) FROM interactions t JOIN (SELECT user_id,
MAX(CASE WHEN (CASE WHEN input_action IN ('flag', 'mask', 'block', 'safe_answer') THEN 1 ELSE 0
END) = 0 THEN seq END) AS last_ok FROM interactions WHERE seq > (SELECT seq FROM
user_activity_mark) AND user_id IS NOT NULL GROUP BY user_id) g ON g.user_id = t.user_id WHERE
t.seq > (SELECT seq FROM user_activity_mark) GROUP BY t.user_id ON CONFLICT (user_id) DO UPDATE
SET total = total + excluded.total, streak = CASE WHEN excluded.streak = excluded.total THEN
streak + excluded.streak ELSE excluded.streak END;

UPDATE user_activity_mark SET seq = COALESCE((SELECT MAX(seq) FROM interactions), seq);

DROP INDEX interactions_user;
