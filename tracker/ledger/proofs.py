"""Proofs in the formats of API.md ("Proof formats"), from the stored tree, and who may read them."""
import json

from models import Attempt, LearningSession, LedgerEntry, QaPost, SessionCheck, User
from tracker.accounts.rules import RuleError
from tracker.ledger import checkpoints, tree
from tracker.ledger.chain import entry_body
from tracker.db import valid_id
from tracker.security import can_view_trainee, evidence_scope, scope_allows


def body_of(entry):
    return entry_body(entry.seq, entry.ts, entry.kind, entry.actor_id, entry.subject_id, json.loads(entry.payload),
                      entry.prev_hash)


def entry_class_id(s, payload):
    """The class an entry's evidence was collected in, from what its payload names; None for entries about the
    person (registration, consent, face enrolment, logins)."""
    if not isinstance(payload, dict):
        return None
    if payload.get("class_id") is not None:
        return payload["class_id"]
    check_id = payload.get("check_id")
    if check_id is not None:
        check = s.get(SessionCheck, check_id) if valid_id(check_id) else None
        if check is None:
            return None
        payload = {"session_id": check.session_id, "attempt_id": check.attempt_id}
    for key, model in (("session_id", LearningSession), ("attempt_id", Attempt), ("post_id", QaPost)):
        if payload.get(key) is not None and valid_id(payload[key]):
            row = s.get(model, payload[key])
            return row.class_id if row else None
    return None


def can_read_entry(s, viewer, entry):
    """Entries hold personal data (names, masked IDs): the subject trainee and admins; staff and regulators
    who may view that trainee, and of entries collected in a class only those of classes in their scope
    (evidence_scope). Entries about nobody in particular (institutions, courses) are for admins."""
    if viewer.role == "admin":
        return True
    if entry.subject_id is None:
        return False
    subject = s.get(User, entry.subject_id)
    if subject is None or not can_view_trainee(s, viewer, subject):
        return False
    class_id = entry_class_id(s, json.loads(entry.payload))
    return class_id is None or scope_allows(evidence_scope(s, viewer, subject), class_id)


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
