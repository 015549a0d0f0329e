"""Pure ledger math, shared by the server and the offline verifier: canonical JSON and entry hashes."""
import hashlib
import json

GENESIS = "0" * 64


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_body(seq, ts, kind, actor_id, subject_id, payload, prev_hash):
    """The object whose canonical JSON is hashed; every field of an entry except its own hash."""
    return {
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "actor_id": actor_id,
        "subject_id": subject_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }


def entry_hash(body) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def verify_chain(rows):
    """Check a sequence of stored entries (dicts with the body fields, payload as text, and hash).

    Returns (count, head_hash, first_bad_seq, reason); first_bad_seq is None when the chain holds.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return count, prev, expected_seq, f"expected entry {expected_seq}, found {seq}"
        try:
            payload = json.loads(row["payload"])
        except ValueError:
            return count, prev, seq, "payload is not JSON"
        if canonical_json(payload).decode("utf-8") != row["payload"]:
            return count, prev, seq, "payload is not in canonical form"
        if row["prev_hash"] != prev:
            return count, prev, seq, "previous-hash link broken"
        body = entry_body(seq, row["ts"], row["kind"], row["actor_id"], row["subject_id"], payload, row["prev_hash"])
        if entry_hash(body) != row["hash"]:
            return count, prev, seq, "hash does not match content"
        prev, expected_seq, count = row["hash"], expected_seq + 1, count + 1
    return count, prev, None, None
