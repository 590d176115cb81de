-- PostgreSQL dialect; ../sqlite/0010_user_activity.sql is its SQLite counterpart. Nothing to
-- change here: PostgreSQL keeps the index interactions_user and answers per-user questions
-- (src/activity.rs) from it; SQLite replaces it with summaries because, there, it was the
-- largest cost of writing a record.
SELECT 1;
