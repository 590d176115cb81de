-- PostgreSQL dialect of ../sqlite/0007_pending_index.sql: keep the two in step.

-- The sequencer reads the journal rows not yet in the tree, oldest first
-- (`WHERE leaf_index IS NULL ORDER BY seq LIMIT n`). The index on (leaf_index, seq) kept an
-- entry for every row ever written, and setting leaf_index (never a HOT update: the column is
-- indexed) left each integrated row's old version and its NULL entry behind until vacuum, so
-- the planner chose a bitmap scan that visited every dead version and sorted: at 256 writers
-- the query took 164-257 ms per batch and integration fell behind. A partial index holds only
-- pending rows, already in seq order, and a plain index scan marks the dead entries it meets,
-- so the next scan skips them.
-- (Built inside the migration's transaction, so not CONCURRENTLY: writes to the journal wait
-- while it is built, one pass over the pending rows only.)
DROP INDEX journal_pending;
CREATE INDEX journal_pending ON journal(seq) WHERE leaf_index IS NULL;

-- Vacuum the journal after about 1% of it was updated, not 20%: every row is updated once, when
-- it is integrated, and leaves a dead version behind.
ALTER TABLE journal SET (autovacuum_vacuum_scale_factor = 0.01);
