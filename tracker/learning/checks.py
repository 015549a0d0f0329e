"""Checks put to a learning trainee: "are you still here?" (防挂机) and photos (签到, 过程拍照).

A pending check holds credit from the moment it was asked: answered in time, nothing is lost; missed or
failed, nothing is credited from the asking until a later check passes. Every check and its verdict go to
the ledger. How a photo is judged is the proctoring feature's business; this module only keeps the rules of
asking, deadlines and blocking.
"""
import random

from flask import current_app

from models import SessionCheck
from tracker import ledger
from tracker.clock import rfc3339
from tracker.learning import events

ATTENTION = "attention"
PHOTO_SIGNIN, PHOTO_RANDOM, PHOTO_EXAM = "photo_signin", "photo_random", "photo_exam"
PHOTO_MAX_INTERVAL = 1200  # at least one photo per 20 minutes of play
RETRY_AFTER_FAILURE = 20  # seconds before a failed photo check is asked again


def next_attention(now):
    mean = current_app.config["TRACKER_ATTENTION_MEAN"]
    return now + max(60.0, random.expovariate(1.0 / mean)) if mean > 0 else None


def next_photo(now):
    mean = current_app.config["TRACKER_PHOTO_CHECK_MEAN"]
    return now + min(PHOTO_MAX_INTERVAL, max(30.0, random.expovariate(1.0 / mean))) if mean > 0 else None


def check_json(check, now):
    return {"check_id": check.id, "kind": check.kind, "deadline": rfc3339(check.deadline_ts),
            "seconds_left": max(0, round(check.deadline_ts - now))}


def open_check(s, sess, kind, now):
    """Ask the trainee; credit is held from now until the answer."""
    deadline_cfg = "TRACKER_ATTENTION_DEADLINE" if kind == ATTENTION else "TRACKER_PHOTO_CHECK_DEADLINE"
    check = SessionCheck(session_id=sess.id, trainee_id=sess.trainee_id, kind=kind, asked_ts=now,
                         deadline_ts=now + current_app.config[deadline_cfg], status="pending")
    s.add(check)
    s.flush()
    sess.pending_check_id = check.id
    if sess.blocked_since is None:
        sess.blocked_since, sess.block_reason = now, "check_pending"
    ledger.append(s, "check.asked", {"check_id": check.id, "session_id": sess.id, "kind": kind,
                                     "deadline": rfc3339(check.deadline_ts)}, subject_id=sess.trainee_id)
    events.check_asked(s, sess, "attention_check" if kind == ATTENTION else "photo_check", check_json(check, now))
    return check


def resolve_check(s, sess, check, passed, now, reason=None, arrived_ts=None, ledger_extra=None, **evidence):
    """Record a verdict. A pass in time releases the held credit; a pass after an earlier failure lifts
    the block from now on; a failure or a miss blocks from the moment the check was asked. A photo is in
    time when it arrived in time (arrived_ts), however long the face work then queued."""
    if check.status != "pending":
        return check
    in_time = (arrived_ts if arrived_ts is not None else now) <= check.deadline_ts
    check.status = "passed" if passed and in_time else ("failed" if in_time else "missed")
    check.reason = reason if check.status != "missed" else "deadline_missed"
    check.answered_ts = now
    for key, value in evidence.items():
        setattr(check, key, value)
    payload = {"check_id": check.id, "session_id": check.session_id, "kind": check.kind, "verdict": check.status,
               "reason": check.reason, "asked": rfc3339(check.asked_ts), "answered": rfc3339(now),
               "seconds": round(now - check.asked_ts, 1)}
    payload.update({k: v for k, v in evidence.items() if k in ("distance", "photo_sha256")})
    payload.update(ledger_extra or {})  # evidence kept elsewhere than the check's row (e.g. the photo's camera label)
    ledger.append(s, "check.passed" if check.status == "passed" else "check.failed", payload,
                  actor_id=check.trainee_id if check.status != "missed" else None, subject_id=check.trainee_id)
    if sess is None:
        return check
    if sess.pending_check_id == check.id:
        sess.pending_check_id = None
    family = "attention" if check.kind == ATTENTION else "photo"
    if check.status == "passed":
        if sess.block_reason == "check_pending":
            sess.blocked_since, sess.block_reason = None, None
        elif sess.block_reason == "failed_attention" or (sess.block_reason == "failed_photo" and family == "photo"):
            # A later check passed: crediting resumes from now, the clock budget restarts here.
            sess.anchor_ts = sess.last_beat_ts = now
            sess.blocked_since, sess.block_reason = None, None
    elif sess.block_reason != "failed_photo":  # a photo failure outranks an attention one
        sess.block_reason = "failed_" + family
    if check.status != "passed" and family == "photo":
        sess.next_photo_ts = now + RETRY_AFTER_FAILURE
    if check.kind == ATTENTION:
        sess.next_attention_ts = next_attention(now)
    elif check.status == "passed":
        sess.next_photo_ts = next_photo(now)
    events.learner_update(s, sess)
    return check


def answer_attention(s, sess, now):
    """"I am here." In time: the pending prompt passes. Late: that prompt is already missed, and this answer
    counts as a later check that passes, so crediting resumes from now."""
    check = s.get(SessionCheck, sess.pending_check_id) if sess.pending_check_id else None
    if check is not None and check.kind == ATTENTION:
        resolve_check(s, sess, check, True, now)
        if check.status == "passed":
            return {"ok": True, "late": False}
    elif sess.block_reason != "failed_attention":
        return {"ok": True, "late": False}
    late = SessionCheck(session_id=sess.id, trainee_id=sess.trainee_id, kind=ATTENTION, asked_ts=now,
                        deadline_ts=now, status="pending")
    s.add(late)
    s.flush()
    resolve_check(s, sess, late, True, now, reason="late_answer")
    return {"ok": True, "late": True}


def due_checks(s, sess, photo_checks, now, media_ended=False):
    """On each heartbeat: expire an overdue check, then ask the next one that is due (one at a time).
    No attention prompt while the client reports its video ended: nobody needs to prove presence at a
    finished chapter, and an unanswerable prompt there would read as a missed one in the records."""
    check = s.get(SessionCheck, sess.pending_check_id) if sess.pending_check_id else None
    if check is not None and now > check.deadline_ts:
        resolve_check(s, sess, check, False, now)
        check = None
    if check is not None or sess.status != "active":
        return check
    if photo_checks and sess.next_photo_ts is not None and now >= sess.next_photo_ts:
        return open_check(s, sess, PHOTO_RANDOM, now)
    if not media_ended and sess.next_attention_ts is not None and now >= sess.next_attention_ts:
        return open_check(s, sess, ATTENTION, now)
    return None
