-- SQLite dialect; ../postgres/0009_fewer_indexes.sql is its PostgreSQL counterpart (nothing
-- to change there).
--
-- Two B-trees fewer for every record the writer appends (each is a seek and an insert):
--
-- journal_pending(leaf_index, seq) repeats the unique index on leaf_index, whose entries are
-- (leaf_index, rowid) and seq is the rowid: finding the rows not yet in the tree, oldest
-- first (`WHERE leaf_index IS NULL ORDER BY seq`), uses that index and needs no sort.
DROP INDEX journal_pending;

-- ledger_leaves was keyed by a BIGINT PRIMARY KEY, which in SQLite is a unique index beside
-- the table's rowid; as INTEGER PRIMARY KEY the leaf index is the rowid itself. The rebuild
-- copies every leaf once, in the migration's transaction: for 1M leaves about 5 s here, and
-- the file grows by the size of the table (~370 MB), whose old pages are then free and
-- reused by later writes.
CREATE TABLE ledger_leaves_new (
    idx         INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL UNIQUE,
    data        TEXT NOT NULL,
    hash        TEXT NOT NULL
);
INSERT INTO ledger_leaves_new (idx, record_id, data, hash)
    SELECT idx, record_id, data, hash FROM ledger_leaves ORDER BY idx;
DROP TABLE ledger_leaves;
ALTER TABLE ledger_leaves_new RENAME TO ledger_leaves;
