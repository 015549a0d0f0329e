"""Proofs in the formats of API.md ("Proof formats"), from the stored tree, and who may read them."""
import json

from models import LedgerEntry, User
from tracker.accounts.rules import RuleError
from tracker.ledger import checkpoints, tree
from tracker.ledger.chain import entry_body
from tracker.security import can_view_trainee


def body_of(entry):
    return entry_body(entry.seq, entry.ts, entry.kind, entry.actor_id, entry.subject_id, json.loads(entry.payload),
                      entry.prev_hash)


def can_read_entry(s, viewer, entry):
    """Entries hold personal data (names, masked IDs): the subject trainee, staff and regulators who may view that
    trainee, and admins. Entries about nobody in particular (institutions, courses) are for admins."""
    if viewer.role == "admin":
        return True
    if entry.subject_id is None:
        return False
    subject = s.get(User, entry.subject_id)
    return subject is not None and can_view_trainee(s, viewer, subject)


def checkpoint_for(s, tree_size=None):
    """The checkpoint of that size, or the newest; RuleError (404) if there is none."""
    cp = checkpoints.latest(s) if tree_size is None else checkpoints.at_size(s, tree_size)
    if cp is None:
        raise RuleError("no_checkpoint", "尚无该大小的签名检查点" if tree_size else "尚无签名检查点", status=404)
    return cp


def inclusion_json(s, entry, cp):
    """{leaf_index, tree_size, leaf_hash, audit_path, entry} of `entry` in the tree `cp` signed."""
    if entry.seq > cp.tree_size:
        raise RuleError("not_in_checkpoint", f"第 {entry.seq} 条尚未纳入该检查点（树大小 {cp.tree_size}），"
                        "新条目至多一分钟内纳入新的检查点", status=409)
    body = body_of(entry)
    leaf = tree.entry_leaf(body)
    if tree.leaf_at(s, entry.seq - 1) != leaf:
        raise RuleError("ledger_inconsistent", "台账条目与默克尔树不一致，请运行 tracker ledger verify", status=500)
    return {"leaf_index": entry.seq - 1, "tree_size": cp.tree_size, "leaf_hash": leaf.hex(),
            "audit_path": [h.hex() for h in tree.inclusion(s, entry.seq - 1, cp.tree_size)], "entry": body}


def consistency_json(s, first, second):
    newest = checkpoints.latest(s)
    limit = newest.tree_size if newest else 0
    if not 1 <= first <= second or second > limit:
        raise RuleError("invalid_range", f"须满足 1 ≤ first ≤ second ≤ {limit}（最新检查点的树大小）", "first")
    return {"first": first, "second": second, "path": [h.hex() for h in tree.consistency(s, first, second)]}


def entry(s, seq):
    found = s.get(LedgerEntry, seq)
    if found is None:
        raise RuleError("not_found", f"台账第 {seq} 条不存在", status=404)
    return found
