"""Appending to and verifying the ledger in the database."""
import json
from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from models import LedgerEntry, LedgerHead
from tracker.ledger import checkpoints
from tracker.ledger.chain import GENESIS, canonical_json, entry_body, entry_hash, verify_chain

_head = LedgerHead.__table__
_entries = LedgerEntry.__table__


def rfc3339_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(session, kind, payload=None, *, actor_id=None, subject_id=None):
    """Append one entry inside the caller's transaction and return its body with its hash.

    Locking the head row first serialises appenders on every database (row lock in PostgreSQL, the
    write lock SQLite's BEGIN IMMEDIATE already holds), so two appends never share a sequence number
    or a previous hash; the entry lands only if the caller's whole unit of work commits.
    """
    payload = payload or {}
    seq, prev = session.execute(
        update(_head).where(_head.c.id == 1).values(seq=_head.c.seq + 1).returning(_head.c.seq, _head.c.hash)
    ).one()
    body = entry_body(seq, rfc3339_now(), kind, actor_id, subject_id, payload, prev)
    digest = entry_hash(body)
    session.execute(
        insert(_entries).values(
            seq=seq, ts=body["ts"], kind=kind, actor_id=actor_id, subject_id=subject_id,
            payload=canonical_json(payload).decode("utf-8"), prev_hash=prev, hash=digest,
        )
    )
    session.execute(update(_head).where(_head.c.id == 1).values(hash=digest))
    checkpoints.on_append(session, body)  # the entry's Merkle leaf and subtrees, and a checkpoint when one is due
    body["hash"] = digest
    return body


def ensure_head(session):
    if session.get(LedgerHead, 1) is None:
        session.add(LedgerHead(id=1, seq=0, hash=GENESIS))


def iter_entries(session, batch=5000):
    """Stream stored entries in sequence order without loading the whole ledger."""
    result = session.execute(select(_entries).order_by(_entries.c.seq).execution_options(yield_per=batch))
    try:
        yield from result.mappings()
    finally:  # verify stops at the first bad entry; PostgreSQL's server-side cursor must not be left open
        result.close()


# Entry kinds whose payload vouches for evidence kept outside the ledger (e.g. a batch of heartbeats):
# kind -> fn(session, payload) returning a problem description or None. Features register theirs.
EVIDENCE_CHECKERS = {}


def register_evidence_checker(kind, fn):
    EVIDENCE_CHECKERS[kind] = fn


def verify(session):
    """Recompute every hash and check the evidence that entries vouch for; the head row catches a deleted tail."""
    evidence_problems = []

    def rows():
        for row in iter_entries(session):
            check = EVIDENCE_CHECKERS.get(row["kind"])
            if check is not None and not evidence_problems:
                try:
                    problem = check(session, json.loads(row["payload"]))
                except (ValueError, KeyError, TypeError):
                    problem = "evidence payload unreadable"
                if problem:
                    evidence_problems.append((row["seq"], problem))
            yield row

    count, head, bad, reason = verify_chain(rows())
    stored = session.get(LedgerHead, 1)
    if bad is None and stored is not None and (stored.seq != count or stored.hash != head):
        # More entries than the head counts: the first extra is forged; as many but another hash: the last was replaced.
        bad = min(stored.seq, count) + 1 if stored.seq != count else count
        reason = f"ledger head says {stored.seq} entries ending {stored.hash[:12]}…, found {count} ending {head[:12]}…"
    if evidence_problems and (bad is None or evidence_problems[0][0] < bad):
        bad, reason = evidence_problems[0]
    return {"entries": count, "head_hash": head, "first_bad_seq": bad, "reason": reason}
