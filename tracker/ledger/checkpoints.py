"""Checkpoints (signed tree heads): made at least every minute while entries arrive and on demand, kept in an
append-only table, published through the API, and checked by `tracker ledger verify`."""
import json
import logging
import os
import time

from flask import current_app, has_app_context
from sqlalchemy import select

from models import LedgerCheckpoint, LedgerHead
from tracker import housekeeping
from tracker.clock import parse_rfc3339, rfc3339
from tracker.ledger import keys, offline, tree
from tracker.ledger.chain import canonical_json, entry_body

_cp = LedgerCheckpoint.__table__
_head = LedgerHead.__table__
DEFAULT_INTERVAL = 60
log = logging.getLogger(__name__)


def interval():
    """Seconds between checkpoints while entries arrive (TRACKER_CHECKPOINT_INTERVAL; 0 turns the timer off)."""
    value = current_app.config.get("TRACKER_CHECKPOINT_INTERVAL") if has_app_context() else None
    return float(value if value is not None else os.environ.get("TRACKER_CHECKPOINT_INTERVAL", DEFAULT_INTERVAL))


def as_json(cp):
    return {"tree_size": cp.tree_size, "root_hash": cp.root_hash, "timestamp": cp.timestamp, "signature": cp.signature}


def latest(s):
    return s.scalar(select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1))


def at_size(s, tree_size):
    return s.get(LedgerCheckpoint, tree_size)


def make_checkpoint(s, tree_size=None, now=None):
    """Sign the tree as it stands, inside the caller's transaction; each size is signed once.

    The head row is locked first, as appenders do, so checkpoints are made one at a time in every process
    and their sizes and times only grow. Returns the newest checkpoint, or None for an empty ledger.
    """
    head = s.execute(select(_head.c.seq).where(_head.c.id == 1).with_for_update()).scalar() or 0
    tree_size = head if tree_size is None else min(tree_size, head)
    newest = latest(s)
    if tree_size == 0 or (newest is not None and newest.tree_size >= tree_size):
        return newest
    root = tree.root_at(s, tree_size).hex()
    stamp = rfc3339(now)
    cp = LedgerCheckpoint(tree_size=tree_size, root_hash=root, timestamp=stamp,
                          signature=keys.sign(offline.checkpoint_message(tree_size, root, stamp)))
    s.add(cp)
    s.flush()
    return cp


def checkpoint_if_due(s, seq=None, now=None):
    """Make a checkpoint when the newest is older than the interval and the tree has grown since.

    Called by every append (inside its transaction, holding the head lock: safe with many processes) and by each
    server's timer, so that the last entries before a quiet spell are signed too.
    """
    every = interval()
    if every <= 0:
        return None
    now = time.time() if now is None else now
    row = s.execute(select(_cp.c.tree_size, _cp.c.timestamp).order_by(_cp.c.tree_size.desc()).limit(1)).first()
    if row is not None:
        size = seq if seq is not None else (s.execute(select(_head.c.seq).where(_head.c.id == 1)).scalar() or 0)
        if size <= row.tree_size or now - parse_rfc3339(row.timestamp) < every:
            return None
    return make_checkpoint(s, seq, now=now)


def on_append(s, body):
    """The ledger's append hook: store the entry's leaf and subtrees, sign a checkpoint when one is due."""
    tree.add_leaf(s, body["seq"], tree.entry_leaf(body))
    if has_app_context():
        try:
            checkpoint_if_due(s, body["seq"])
        except OSError:  # an unreadable key folder must not stop the ledger; the timer and `verify` will say so
            log.exception("could not sign a checkpoint")


# --- the timer in each serving process -----------------------------------------------------------------------------


@housekeeping.every("sign checkpoints", lambda cfg: min(cfg["TRACKER_CHECKPOINT_INTERVAL"], 15)
                   if cfg["TRACKER_CHECKPOINT_INTERVAL"] > 0 else 0)
def _sign_due_checkpoint(app):
    """Sign the last entries before a quiet spell too (appending signs only while entries arrive)."""
    from tracker.extensions import db

    with db.transaction() as s:
        checkpoint_if_due(s)


# --- verification and export ---------------------------------------------------------------------------------------


def _checkpoints(s, batch=5000):
    last = -1
    while True:
        rows = s.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size > last)
                         .order_by(LedgerCheckpoint.tree_size).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].tree_size


def verify(s, public_raw=None):
    """Recompute the tree from the entries: every stored node, every checkpoint's signature and root, and the
    consistency proof (from stored nodes) between each checkpoint and the one before.

    Returns {"leaves", "root_hash", "checkpoints", "newest", "tree_problem": (seq, reason) | None,
    "checkpoint_problem": (tree_size, reason) | None}.
    """
    public_raw = public_raw or keys.public_key_bytes()
    check = tree.TreeCheck(s)
    cps = _checkpoints(s)
    pending = next(cps, None)
    previous, verified, cp_problem, tree_problem = None, 0, None, None

    def check_cp(cp):
        nonlocal previous, verified
        cpj = as_json(cp)
        offline.check_checkpoint(cpj, public_raw)
        if check.frontier.root().hex() != cp.root_hash:
            raise offline.Invalid("root hash differs from the root recomputed from the entries")
        if previous is not None and check.problem is None:
            path = [h.hex() for h in tree.consistency(s, previous["tree_size"], cp.tree_size)]
            offline.check_consistency(previous, cpj, path)
        previous, verified = cpj, verified + 1

    def drain(size):
        nonlocal pending, cp_problem
        while pending is not None and pending.tree_size <= size and cp_problem is None:
            if pending.tree_size < size or pending.tree_size == 0:
                cp_problem = (pending.tree_size, "a checkpoint of a size the tree never had")
                break
            try:
                check_cp(pending)
            except offline.Invalid as e:
                cp_problem = (pending.tree_size, str(e))
            pending = next(cps, None)

    expected = 1
    for row in tree.stored_entries(s):
        if row["seq"] != expected:
            tree_problem = (expected, f"entry {expected} is missing")
            break
        try:
            leaf = tree.row_leaf(row)
        except ValueError:
            tree_problem = (expected, "payload is not JSON")
            break
        check.add(leaf)
        drain(check.frontier.size)
        expected += 1
    if tree_problem is None:
        check.finish()
        tree_problem = check.problem
    if pending is not None and cp_problem is None and tree_problem is None:
        cp_problem = (pending.tree_size, f"checkpoint beyond the ledger's {check.frontier.size} entries")
    return {"leaves": check.frontier.size, "root_hash": check.frontier.root().hex(), "checkpoints": verified,
            "newest": previous, "tree_problem": tree_problem, "checkpoint_problem": cp_problem}


def export_lines(s):
    """The ledger as canonical JSON lines: a header with the public key, each entry, each checkpoint right after
    the entry that completes it (see offline.verify_export)."""
    yield canonical_json({"format": offline.EXPORT_FORMAT, "algorithm": "ed25519", "public_key": keys.public_key_b64()})
    cps = _checkpoints(s)
    pending = next(cps, None)
    for row in tree.stored_entries(s):
        body = entry_body(row["seq"], row["ts"], row["kind"], row["actor_id"], row["subject_id"], json.loads(row["payload"]),
                          row["prev_hash"])
        yield canonical_json({"entry": body, "hash": row["hash"]})
        while pending is not None and pending.tree_size <= row["seq"]:
            if pending.tree_size == row["seq"]:
                yield canonical_json({"checkpoint": as_json(pending)})
            pending = next(cps, None)
