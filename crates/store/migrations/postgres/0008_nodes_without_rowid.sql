-- PostgreSQL dialect of ../sqlite/0008_nodes_without_rowid.sql: keep the two in step.
-- Nothing to change: a PostgreSQL table is a heap with separate indexes either way, and its
-- proofs read their nodes in one query.
SELECT 1;
