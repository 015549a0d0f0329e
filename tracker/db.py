"""Schema management (Alembic), the append-only guards on ledger tables, and the ids a row can have."""
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from werkzeug.routing import IntegerConverter

import models

MAX_ID = 2 ** 31 - 1  # the largest id an INTEGER column holds on PostgreSQL: a larger one fails the lookup (a 500)
MAX_BIGINT = 2 ** 63 - 1  # ledger sequence numbers and tree sizes are BIGINT


class RowIdConverter(IntegerConverter):
    """<int:…> in every route: an id no row can have does not match the route, so it is a plain 404."""

    regex = r"\d{1,10}"  # refused by the pattern, not only by max: a route's other methods then say 404, not 405

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def valid_id(value):
    """An id as a JSON body gives it that can name a row: a positive integer the database can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class BigIdConverter(IntegerConverter):
    """<bigint:…>: a ledger position (BIGINT)."""

    regex = r"\d{1,19}"

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_BIGINT, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


MIGRATIONS = Path(models.__file__).resolve().parent / "migrations"

# Tables that only ever grow; the database itself refuses UPDATE and DELETE on them.
APPEND_ONLY = ["ledger_entries", "heartbeats", "merkle_nodes", "ledger_checkpoints", "certificates",
               "certificate_revocations"]
# Assessment evidence: questions are versioned, never edited; answers, Q&A posts and notices only grow.
APPEND_ONLY += ["bank_questions", "bank_retirements", "attempt_answers", "qa_posts", "class_notices"]
# The regulator's reviews of anomalies: a later review supersedes an earlier one, which stays.
APPEND_ONLY += ["anomaly_reviews"]
# A trainee's refusal of a roster place they did not ask for.
APPEND_ONLY += ["roster_refusals"]


def alembic_config(url):
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine):
    """Bring the schema to the newest revision, then make sure the ledger head row exists."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table that others reference; SQLite would refuse to drop the old
            # copy with foreign keys on (the pragma is ignored inside a transaction, so it is set before).
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg = alembic_config(str(engine.url))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("migration left rows whose foreign keys point nowhere")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    from tracker.ledger.services import ensure_head
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        ensure_head(s)


def guard_sql(dialect, table):
    """SQL that makes `table` append-only on this dialect (used by migrations and by tests)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION tracker_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION tracker_append_only()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tracker_append_only()",
    ]


def unguard_sql(dialect, table):
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    return [f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}", f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"]


def guard(conn, table):
    for stmt in guard_sql(conn.dialect.name, table):
        conn.execute(text(stmt))
