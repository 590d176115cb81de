-- SQLite dialect; ../postgres/0007_pending_index.sql replaces the PostgreSQL index that finds
-- the rows not yet in the tree with a partial one. SQLite keeps journal_pending(leaf_index, seq):
-- it has no dead row versions to skip (the reason for the change on PostgreSQL), and the
-- record writer integrates each record in the transaction that writes it, so a partial index
-- would gain an entry and lose it again in every transaction. Measured with
-- `ledger_bench appends --backend sqlite` (2026-11-29): the partial index cost 10-25% of the
-- appends per second at 1 and 16 writers and gained nothing at 256.
SELECT 1;
