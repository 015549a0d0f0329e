"""Ledger proofs at scale: a ledger of N entries with its Merkle nodes, then the time of appends (each storing its
leaf and subtrees), checkpoints, inclusion and consistency proofs (served from stored nodes, O(log n) lookups each),
a full verification and an export.

The first N entries are bulk-loaded (chained and hashed exactly as appends would, written with executemany) so that
100,000 entries take seconds; --appends more then go through ledger.append and are timed.

Run: `.venv/bin/python bench/ledger.py [--entries 100000] [--appends 2000] [--proofs 1000]` (SQLite in a temporary
folder, or TRACKER_BENCH_PG_URL for PostgreSQL). Prints a table.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker import create_app, ledger  # noqa: E402
from tracker.extensions import db  # noqa: E402
from tracker.ledger import checkpoints, merkle, offline, proofs, tree  # noqa: E402


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def bulk_load(n, batch=5000):
    """n entries as ledger.append would write them, with their Merkle nodes, in big executemany batches."""
    from sqlalchemy import insert, update

    from models import LedgerEntry, LedgerHead, MerkleNode
    from tracker.ledger.chain import GENESIS, canonical_json, entry_body, entry_hash
    from tracker.ledger.services import rfc3339_now

    prev, frontier = GENESIS, merkle.Frontier()
    for start in range(0, n, batch):
        entries, nodes = [], []
        for seq in range(start + 1, min(n, start + batch) + 1):
            payload = {"i": seq, "trainee": "张伟", "credited_seconds": 15.0}
            body = entry_body(seq, rfc3339_now(), "bench.event", None, seq % 97, payload, prev)
            digest = entry_hash(body)
            entries.append({"seq": seq, "ts": body["ts"], "kind": body["kind"], "actor_id": None, "subject_id": seq % 97,
                            "payload": canonical_json(payload).decode(), "prev_hash": prev, "hash": digest})
            nodes += [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in frontier.append(tree.entry_leaf(body))]
            prev = digest
        with db.transaction() as s:
            s.execute(insert(LedgerEntry.__table__), entries)
            s.execute(insert(MerkleNode.__table__), nodes)
            s.execute(update(LedgerHead.__table__).where(LedgerHead.__table__.c.id == 1).values(seq=entries[-1]["seq"], hash=prev))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--proofs", type=int, default=1000)
    ap.add_argument("--appends", type=int, default=2000, help="entries appended through ledger.append, timed")
    ap.add_argument("--batch", type=int, default=500, help="entries appended per transaction")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    url = os.environ.get("TRACKER_BENCH_PG_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app({"TRACKER_INSTANCE": str(tmp / "instance"), "TESTING": True, "SECRET_KEY": "bench",
                      "TRACKER_ID_PEPPER": "bench", "TRACKER_DATABASE_URL": url, "TRACKER_CHECKPOINT_INTERVAL": 0})
    rows = []
    with app.app_context():
        from tracker.db import upgrade

        upgrade(db.engine)
        t0 = time.perf_counter()
        bulk_load(a.entries)
        rows.append(("bulk load (chain + nodes, executemany)", f"{time.perf_counter() - t0:.1f} s", f"{a.entries:,} entries"))
        t0 = time.perf_counter()
        for start in range(0, a.appends, a.batch):
            with db.transaction() as s:
                for i in range(start, min(a.appends, start + a.batch)):
                    ledger.append(s, "bench.event", {"i": i, "trainee": "张伟", "credited_seconds": 15.0}, subject_id=i % 97)
        append_s = time.perf_counter() - t0
        if a.appends:
            rows.append(("ledger.append (entry + leaf + subtrees)", f"{a.appends / append_s:,.0f} entries/s",
                         f"{append_s * 1e6 / a.appends:,.0f} µs/entry"))

        with db.transaction() as s:
            cp, dt = timed(checkpoints.make_checkpoint, s)
        rows.append(("checkpoint (root from stored nodes + Ed25519)", f"{dt * 1e3:.2f} ms", f"tree size {cp.tree_size:,}"))
        n, root = cp.tree_size, bytes.fromhex(cp.root_hash)

        rnd = random.Random(1)
        times, lengths = [], []
        with db.transaction() as s:
            for _ in range(a.proofs):
                seq = rnd.randrange(1, n + 1)
                t = time.perf_counter()
                p = proofs.inclusion_json(s, proofs.entry(s, seq), cp)
                times.append(time.perf_counter() - t)
                lengths.append(len(p["audit_path"]))
                assert merkle.verify_inclusion(offline.entry_leaf_hash(p["entry"]), p["leaf_index"], n,
                                               [bytes.fromhex(h) for h in p["audit_path"]], root)
        rows.append(("inclusion proof (API object, incl. entry)", f"{statistics.median(times) * 1e3:.2f} ms median",
                     f"p99 {sorted(times)[int(len(times) * 0.99) - 1] * 1e3:.2f} ms, path {max(lengths)} hashes"))

        times = []
        with db.transaction() as s:
            for _ in range(a.proofs):
                first = rnd.randrange(1, n + 1)
                t = time.perf_counter()
                path = tree.consistency(s, first, n)
                times.append(time.perf_counter() - t)
            old = tree.root_at(s, first)
        assert merkle.verify_consistency(first, n, old, root, path)
        rows.append(("consistency proof", f"{statistics.median(times) * 1e3:.2f} ms median",
                     f"p99 {sorted(times)[int(len(times) * 0.99) - 1] * 1e3:.2f} ms"))

        t = time.perf_counter()
        f = merkle.Frontier()
        for i in range(n):
            f.append(merkle.leaf_hash(b"%d" % i))
        rows.append(("rebuilding the tree in memory, for comparison", f"{(time.perf_counter() - t) * 1e3:.0f} ms",
                     "what each proof would cost without stored nodes"))

        from tracker.ledger.services import verify as verify_chain

        with db.transaction() as s:
            result, dt_chain = timed(verify_chain, s)
            proof_result, dt_tree = timed(checkpoints.verify, s)
        assert result["first_bad_seq"] is None and proof_result["tree_problem"] is None
        rows.append(("ledger verify: chain", f"{dt_chain:.1f} s", f"{n / dt_chain:,.0f} entries/s"))
        rows.append(("ledger verify: tree + checkpoints", f"{dt_tree:.1f} s", f"{n / dt_tree:,.0f} entries/s"))

        with db.transaction() as s:
            lines, dt = timed(lambda: sum(1 for _ in checkpoints.export_lines(s)))
        rows.append(("export", f"{dt:.1f} s", f"{lines:,} lines"))

    width = max(len(r[0]) for r in rows)
    print(f"ledger of {a.entries + a.appends:,} entries on {url.split(':', 1)[0]}")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>22}  {note}")


if __name__ == "__main__":
    main()
