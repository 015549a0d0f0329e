"""The ledger's Merkle tree in the database: complete-subtree hashes written as entries are appended, so that
a root, an audit path or a consistency proof is one query for O(log n) nodes (math in tracker.ledger.merkle)."""
import json
from collections import deque

from sqlalchemy import and_, bindparam, func, insert, or_, select

from models import LedgerEntry, MerkleNode
from tracker.ledger import merkle
from tracker.ledger.chain import canonical_json, entry_body

_nodes = MerkleNode.__table__
_entries = LedgerEntry.__table__
BATCH = 5000
# One node by key: a fixed statement, so SQLAlchemy compiles it once (the append path runs it about once per entry).
_ONE = select(_nodes.c.hash).where(_nodes.c.level == bindparam("level"), _nodes.c.idx == bindparam("idx"))
_INSERT = insert(_nodes)


class TreeOutOfStep(RuntimeError):
    """The stored nodes do not match the ledger (a node is missing where one must be)."""


def entry_leaf(body) -> bytes:
    """Leaf hash of an entry body (the fields entry_body returns, without the entry's own hash)."""
    return merkle.leaf_hash(canonical_json(body))


def fetch(s, keys):
    """{(level, index): hash} for the given complete subtrees, in one query."""
    keys = list(keys)
    if not keys:
        return {}
    # OR of key equalities, not a row-value IN: SQLite scans the whole table for the latter, but searches the
    # primary key once per term for this (MULTI-INDEX OR; PostgreSQL a BitmapOr).
    rows = s.execute(select(_nodes.c.level, _nodes.c.idx, _nodes.c.hash)
                     .where(or_(*(and_(_nodes.c.level == level, _nodes.c.idx == idx) for level, idx in keys)))).all()
    return {(level, idx): bytes(h) for level, idx, h in rows}


def add_leaf(s, seq, leaf):
    """Store entry `seq`'s leaf and every subtree it completes (inside the appender's transaction)."""
    index = seq - 1
    siblings = {}
    for level, idx in merkle.left_siblings(index):  # one on average: half the leaves have none
        h = s.execute(_ONE, {"level": level, "idx": idx}).scalar()
        if h is None:
            raise TreeOutOfStep(f"Merkle node (level {level}, index {idx}) missing before entry {seq}")
        siblings[(level, idx)] = bytes(h)
    s.execute(_INSERT, [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in merkle.join(index, leaf, siblings)])


def _getter(s, ranges):
    found = fetch(s, merkle.needed_nodes(ranges))

    def get(level, index):
        try:
            return found[(level, index)]
        except KeyError:
            raise TreeOutOfStep(f"Merkle node (level {level}, index {index}) is missing") from None

    return get


def size(s):
    """How many leaves are stored."""
    top = s.execute(select(func.max(_nodes.c.idx)).where(_nodes.c.level == 0)).scalar()
    return 0 if top is None else top + 1


def root_at(s, tree_size) -> bytes:
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return merkle.root(tree_size, _getter(s, [(0, tree_size)]))


def leaf_at(s, index) -> bytes:
    return _getter(s, [(index, index + 1)])(0, index)


def inclusion(s, index, tree_size):
    ranges = merkle.inclusion_ranges(index, tree_size)
    get = _getter(s, ranges)
    return [merkle.range_hash(lo, hi, get) for lo, hi in ranges]


def consistency(s, first, second):
    ranges = merkle.consistency_ranges(first, second)
    get = _getter(s, ranges)
    return [merkle.range_hash(lo, hi, get) for lo, hi in ranges]


# --- verification: every stored node against the tree recomputed from the entries ----------------------------------


def stored_entries(s):
    """Entries in sequence order, in batches by key (no server-side cursor left open if the caller stops)."""
    last = 0
    while True:
        rows = s.execute(select(_entries).where(_entries.c.seq > last).order_by(_entries.c.seq).limit(BATCH)).mappings().all()
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


def row_leaf(row):
    payload = json.loads(row["payload"])
    return entry_leaf(entry_body(row["seq"], row["ts"], row["kind"], row["actor_id"], row["subject_id"], payload,
                                 row["prev_hash"]))


class _Level:
    """The stored nodes of one level in index order, fetched in batches."""

    def __init__(self, s, level):
        self.s, self.level, self.buf, self.after = s, level, deque(), -1

    def next(self):
        if not self.buf:
            rows = self.s.execute(select(_nodes.c.idx, _nodes.c.hash)
                                  .where(_nodes.c.level == self.level, _nodes.c.idx > self.after)
                                  .order_by(_nodes.c.idx).limit(BATCH)).all()
            self.buf.extend((idx, bytes(h)) for idx, h in rows)
            if rows:
                self.after = rows[-1][0]
        return self.buf.popleft() if self.buf else None


class TreeCheck:
    """Fed the recomputed leaves in order, compares every node the tree gets with the stored one.

    `problem` is (first entry seq the bad node covers, reason) once something differs; `frontier` gives the
    recomputed root at the current size.
    """

    def __init__(self, s):
        self.s, self.frontier, self.levels, self.problem = s, merkle.Frontier(), {}, None

    def add(self, leaf):
        for level, index, h in self.frontier.append(leaf):
            if self.problem:
                continue
            cursor = self.levels.get(level) or self.levels.setdefault(level, _Level(self.s, level))
            stored = cursor.next()
            first = (index << level) + 1
            if stored is None or stored[0] != index:
                self.problem = (first, f"Merkle node (level {level}, index {index}) is missing")
            elif stored[1] != h:
                span = f"entry {first}" if level == 0 else f"entries {first}–{(index + 1) << level}"
                self.problem = (first, f"Merkle node (level {level}, index {index}) does not match {span}")

    def finish(self):
        """Nodes stored beyond what the entries make are forged (or the entries behind them were deleted)."""
        if self.problem:
            return
        n = self.frontier.size
        for level, count in self.s.execute(select(_nodes.c.level, func.count()).group_by(_nodes.c.level)).all():
            expected = n >> level
            if count != expected:
                self.problem = (min(n, expected << level) + 1,
                                f"{count} Merkle nodes at level {level} for {n} entries (expected {expected})")
                return
