"""Delivery and attempt counts kept by triggers (PostgreSQL), so /metrics never scans

`/metrics` reports deliveries by state and target type and attempts by outcome. Counting them
means reading every row (or every index entry): about a second per scrape at 3 million
deliveries, so those figures came from a background refresh that could lag and competed
with the scrapes for the CPU. Here PostgreSQL keeps the counts itself, in the transaction that
changes the rows: statement-level triggers on `deliveries` and `delivery_attempts` append one
row per (kind, label, target type) a statement changed, with the net change, to
`delivery_tallies`; a scrape sums that table. Appending, never updating a shared counter row,
means concurrent workers never wait on each other; now and then a writer folds the rows into
one per label, under an advisory lock taken only if free (pg_locks.TALLY_COMPACTION), so
the table stays small without anyone queueing for it.

SQLite gets nothing: its writers are serialised already and its scans stayed under the
target; the collector counts there as before.

Revision ID: 0016_delivery_tallies
Revises: 0013_ops
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = "0016_delivery_tallies"
down_revision = "0013_ops"
branch_labels = None
depends_on = None

# Any constant; the same as pg_locks.TALLY_COMPACTION (migrations do not import the package).
COMPACTION_LOCK = 5319
# One statement in this many folds the table; a scrape then sums at most a few thousand rows.
COMPACT_EVERY = 500

UPGRADE = f"""
CREATE TABLE delivery_tallies (
    id bigserial PRIMARY KEY,
    kind varchar(16) NOT NULL,          -- 'delivery' (label: state) or 'attempt' (label: outcome)
    label varchar(32) NOT NULL,
    target_type varchar(32) NOT NULL,   -- '' for attempts
    n bigint NOT NULL
);

CREATE FUNCTION signoff_fold_delivery_tallies() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_xact_lock({COMPACTION_LOCK}) THEN
        WITH gone AS (DELETE FROM delivery_tallies RETURNING kind, label, target_type, n)
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT kind, label, target_type, sum(n) FROM gone GROUP BY kind, label, target_type HAVING sum(n) <> 0;
    END IF;
END $$;

CREATE FUNCTION signoff_tally_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'delivery', state, target_type, count(*) FROM new_rows GROUP BY state, target_type;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'delivery', state, target_type, -count(*) FROM old_rows GROUP BY state, target_type;
    ELSE  -- most updates (leases, retries scheduled) leave state and type alone: nothing to add
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'delivery', state, target_type, sum(n) FROM (
            SELECT state, target_type, 1 AS n FROM new_rows
            UNION ALL SELECT state, target_type, -1 FROM old_rows) AS moved
        GROUP BY state, target_type HAVING sum(n) <> 0;
    END IF;
    IF random() < 1.0 / {COMPACT_EVERY} THEN
        PERFORM signoff_fold_delivery_tallies();
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION signoff_tally_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'attempt', outcome, '', count(*) FROM new_rows GROUP BY outcome;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'attempt', outcome, '', -count(*) FROM old_rows GROUP BY outcome;
    ELSE
        INSERT INTO delivery_tallies (kind, label, target_type, n)
        SELECT 'attempt', outcome, '', sum(n) FROM (
            SELECT outcome, 1 AS n FROM new_rows UNION ALL SELECT outcome, -1 FROM old_rows) AS moved
        GROUP BY outcome HAVING sum(n) <> 0;
    END IF;
    IF random() < 1.0 / {COMPACT_EVERY} THEN
        PERFORM signoff_fold_delivery_tallies();
    END IF;
    RETURN NULL;
END $$;

-- No write may slip between the first count and the triggers.
LOCK TABLE deliveries, delivery_attempts IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER tally_inserted AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_deliveries();
CREATE TRIGGER tally_updated AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_deliveries();
CREATE TRIGGER tally_deleted AFTER DELETE ON deliveries REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_deliveries();
CREATE TRIGGER tally_inserted AFTER INSERT ON delivery_attempts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_attempts();
CREATE TRIGGER tally_updated AFTER UPDATE ON delivery_attempts REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_attempts();
CREATE TRIGGER tally_deleted AFTER DELETE ON delivery_attempts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_tally_attempts();

INSERT INTO delivery_tallies (kind, label, target_type, n)
SELECT 'delivery', state, target_type, count(*) FROM deliveries GROUP BY state, target_type;
INSERT INTO delivery_tallies (kind, label, target_type, n)
SELECT 'attempt', outcome, '', count(*) FROM delivery_attempts GROUP BY outcome;
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS tally_inserted ON deliveries;
DROP TRIGGER IF EXISTS tally_updated ON deliveries;
DROP TRIGGER IF EXISTS tally_deleted ON deliveries;
DROP TRIGGER IF EXISTS tally_inserted ON delivery_attempts;
DROP TRIGGER IF EXISTS tally_updated ON delivery_attempts;
DROP TRIGGER IF EXISTS tally_deleted ON delivery_attempts;
DROP FUNCTION IF EXISTS signoff_tally_deliveries();
DROP FUNCTION IF EXISTS signoff_tally_attempts();
DROP FUNCTION IF EXISTS signoff_fold_delivery_tallies();
DROP TABLE IF EXISTS delivery_tallies;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
