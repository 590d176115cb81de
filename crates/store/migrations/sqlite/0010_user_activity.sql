-- SQLite dialect; ../postgres/0010_user_activity.sql is its PostgreSQL counterpart (nothing
-- to change there: PostgreSQL keeps the index and answers per-user questions from it).
--
-- The per-user index on interactions goes: with tens of thousands of users every new entry
-- landed on a random page of it, rewritten whole at each commit (5 of the 14 KB written to disk
-- per record). What it answered comes from the activity file beside the database, built from
-- interactions in the background (src/activity.rs), which an existing log builds on first start.
DROP INDEX interactions_user;
