-- SQLite dialect; ../postgres/0008_nodes_without_rowid.sql is its PostgreSQL counterpart
-- (nothing to change there).
--
-- ledger_nodes becomes a WITHOUT ROWID table clustered on (level, idx): one B-tree instead of
-- a rowid table plus its primary-key index, so reading a node for a proof is one descent
-- instead of two. Proofs read the tree's lower levels one node at a time (the upper levels
-- are cached in memory: src/nodes.rs), so this halves the pages each proof reads.
-- Measured with `ledger_bench nodes --leaves 10000000` (BENCHMARKS.md).
CREATE TABLE ledger_nodes_new (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
INSERT INTO ledger_nodes_new (level, idx, hash) SELECT level, idx, hash FROM ledger_nodes;
DROP TABLE ledger_nodes;
ALTER TABLE ledger_nodes_new RENAME TO ledger_nodes;
