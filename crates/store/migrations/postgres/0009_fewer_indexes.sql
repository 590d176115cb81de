-- PostgreSQL dialect; ../sqlite/0009_fewer_indexes.sql is its SQLite counterpart. Nothing to
-- change here: PostgreSQL's pending rows have a partial index of their own (0007), and a
-- primary key is the table's only index on it.
SELECT 1;
