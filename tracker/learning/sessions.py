"""Learning sessions and the heartbeat stream: applies the crediting rule and records every decision."""
import hashlib
import json
import math
import time

from flask import current_app
from sqlalchemy import select

from models import (
    Chapter, ChapterProgress, DailyCredit, Enrollment, Heartbeat, LearningSession, LectureProgress, LiveLecture,
    SessionCheck, TrainingClass,
)
from tracker import housekeeping, ledger
from tracker.accounts.rules import RuleError
from tracker.learning import checks, crediting, events
from tracker.learning.crediting import Beat, Limits, State, cst_day
from tracker.learning.policy import policy_for
from tracker.learning.services import chapter_in_trainee_classes
from tracker.ledger.chain import canonical_json

SEAL_EVERY = 20  # heartbeats per ledger seal; a session's end seals the rest
STALE_AFTER = 600  # seconds without a heartbeat before an open session is closed by the sweeper
MAX_ENV_BYTES = 2000


def server_now():
    """The server's clock. TRACKER_CLOCK_SCALE > 1 makes it run faster (tests compress real sessions)."""
    scale = current_app.config["TRACKER_CLOCK_SCALE"]
    if scale == 1:
        return time.time()
    origin = current_app.config["TRACKER_CLOCK_ORIGIN"]
    return origin + (time.time() - origin) * scale


rfc3339 = checks.rfc3339


def limits_for(cls):
    return Limits.for_interval(current_app.config["TRACKER_HEARTBEAT_INTERVAL"], policy_for(cls.policy_profile).daily_cap_seconds)


def start_session(s, trainee, chapter_id, address=None, user_agent=None, now=None):
    """Open a session on a chapter; any other open session of the trainee is ended (one device at a time)."""
    now = now or server_now()
    if not isinstance(chapter_id, int) or isinstance(chapter_id, bool):
        raise RuleError("invalid_field", "chapter_id 须为整数", "chapter_id")
    chapter, class_id = chapter_in_trainee_classes(s, trainee, chapter_id)
    if chapter is None:
        raise RuleError("not_enrolled", "章节不存在，或您不在包含该章节的班期中", "chapter_id", status=404)
    return _open_session(s, trainee, class_id, now, address, user_agent, chapter_id=chapter.id)


# A live room opens this long before the lecture starts (time before the start is recorded, never credited).
LIVE_EARLY_SECONDS = 15 * 60


def start_lecture_session(s, trainee, lecture_id, address=None, user_agent=None, now=None):
    """Enter a live lecture's room (直播间): a session like a chapter's, with the same checks, credited by presence."""
    now = now or server_now()
    if not isinstance(lecture_id, int) or isinstance(lecture_id, bool):
        raise RuleError("invalid_field", "lecture_id 须为整数", "lecture_id")
    lecture = s.get(LiveLecture, lecture_id)
    enrolled = lecture is not None and s.scalar(select(Enrollment.id).where(
        Enrollment.class_id == lecture.class_id, Enrollment.trainee_id == trainee.id)) is not None
    if not enrolled:
        raise RuleError("not_enrolled", "直播不存在，或您不在该直播所属班期中", "lecture_id", status=404)
    if lecture.status == "cancelled":
        raise RuleError("lecture_cancelled", "该场直播已取消", "lecture_id", status=409)
    if now < lecture.starts_ts - LIVE_EARLY_SECONDS:
        raise RuleError("lecture_not_open", f"直播间在开播前{LIVE_EARLY_SECONDS // 60}分钟开放", "lecture_id", status=409)
    if now >= lecture.ends_ts:
        raise RuleError("lecture_over", "该场直播已结束", "lecture_id", status=409)
    return _open_session(s, trainee, lecture.class_id, now, address, user_agent, lecture_id=lecture.id)


def _open_session(s, trainee, class_id, now, address, user_agent, chapter_id=None, lecture_id=None):
    others = s.scalars(select(LearningSession).where(LearningSession.trainee_id == trainee.id,
                                                     LearningSession.status == "active").with_for_update()).all()
    for other in others:
        end_session(s, other, "replaced", now=now)
    sess = LearningSession(
        trainee_id=trainee.id, chapter_id=chapter_id, lecture_id=lecture_id, class_id=class_id, started_ts=now,
        status="active", address=(address or "")[:64], user_agent=(user_agent or "")[:300],
        next_attention_ts=checks.next_attention(now),
    )
    s.add(sess)
    s.flush()
    where = {"chapter_id": chapter_id} if chapter_id is not None else {"lecture_id": lecture_id}
    ledger.append(s, "session.started", {"session_id": sess.id, **where, "class_id": class_id,
                                          "address": sess.address, "user_agent": sess.user_agent,
                                          "replaced": [o.id for o in others]},
                  actor_id=trainee.id, subject_id=trainee.id)
    if s.get(TrainingClass, class_id).photo_checks:
        # Sign-in (签到): nothing counts until a photo of the enrolled face passes.
        checks.open_check(s, sess, checks.PHOTO_SIGNIN, now)
    events.learner_update(s, sess)
    return sess


def pending_checks_json(s, sess, now):
    """(photo check, attention prompt) pending on the session, as the client sees them."""
    check = s.get(SessionCheck, sess.pending_check_id) if sess.pending_check_id else None
    if check is None:
        return None, None
    return (None, checks.check_json(check, now)) if check.kind == checks.ATTENTION else (checks.check_json(check, now), None)


def session_json(s, sess):
    now = server_now()
    body = {"session_id": sess.id, "class_id": sess.class_id, "status": sess.status,
            "heartbeat_interval": current_app.config["TRACKER_HEARTBEAT_INTERVAL"],
            "check": pending_checks_json(s, sess, now)[0]}
    if sess.lecture_id is not None:
        lecture = s.get(LiveLecture, sess.lecture_id)
        progress = s.get(LectureProgress, (sess.trainee_id, sess.lecture_id))
        return {**body, "lecture_id": lecture.id, "lecture_seconds": round(lecture.seconds),
                "starts_in_seconds": round(max(0.0, lecture.starts_ts - now), 1),
                "ends_in_seconds": round(max(0.0, lecture.ends_ts - now), 1),
                "lecture_credited_seconds": round(progress.credited_seconds, 3) if progress else 0.0}
    progress = s.get(ChapterProgress, (sess.trainee_id, sess.chapter_id))
    return {**body, "chapter_id": sess.chapter_id, "resume_position": progress.credited_seconds if progress else 0.0,
            "chapter_seconds": sess.chapter.seconds}


def parse_heartbeat(data):
    """Validate a heartbeat's fields; raises RuleError (400) naming the first bad one."""
    if not isinstance(data, dict):
        raise RuleError("bad_request", "心跳应为JSON对象")

    def number(key, required=True):
        v = data.get(key)
        if v is None and not required:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise RuleError("invalid_field", f"心跳字段 {key} 须为数字", key)
        return float(v)

    seq = data.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not (1 <= seq <= 10**9):
        raise RuleError("invalid_field", "心跳字段 seq 须为正整数", "seq")
    beat = {"seq": seq, "position": number("position"), "rate": number("rate"),
            "client_time": number("client_time", required=False)}
    # Optional: the player reports that its video reached the end (no attention prompt then). Never credited.
    ended = data.get("ended", False)
    if not isinstance(ended, bool):
        raise RuleError("invalid_field", "心跳字段 ended 须为 true 或 false", "ended")
    beat["ended"] = ended
    for key in ("playing", "visible", "focused"):
        if not isinstance(data.get(key), bool):
            raise RuleError("invalid_field", f"心跳字段 {key} 须为 true 或 false", key)
        beat[key] = data[key]
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise RuleError("invalid_field", "心跳字段 env 须为对象", "env")
    env_text = json.dumps(env, ensure_ascii=False, sort_keys=True)
    if len(env_text.encode()) > MAX_ENV_BYTES:
        raise RuleError("too_long", "心跳字段 env 过长", "env")
    beat["env"] = env_text
    return beat


def _day_credit(s, trainee_id, day):
    row = s.get(DailyCredit, (trainee_id, day))
    if row is None:
        row = DailyCredit(trainee_id=trainee_id, day=day, credited_seconds=0.0)
        s.add(row)
        s.flush()  # into the identity map, so a later heartbeat of the same batch finds it
    return row


def _progress(s, model, trainee_id, key, value):
    row = s.get(model, (trainee_id, value))
    if row is None:
        row = model(trainee_id=trainee_id, **{key: value}, credited_seconds=0.0)
        s.add(row)
        s.flush()
    return row


def preload_for_heartbeats(s, session_ids, now):
    """Load and lock what a batch of heartbeats reads, a query per table instead of several per heartbeat;
    record_heartbeat then finds it all in the session's identity map. The caller keeps the returned list
    while it works: the identity map holds objects only weakly."""
    rows = s.scalars(select(LearningSession).where(LearningSession.id.in_(session_ids)).with_for_update()).all()
    if not rows:
        return []
    trainees = {r.trainee_id for r in rows}
    chapters = {r.chapter_id for r in rows if r.chapter_id is not None}
    lectures = {r.lecture_id for r in rows if r.lecture_id is not None}
    loaded = [
        *rows,
        *s.scalars(select(TrainingClass).where(TrainingClass.id.in_({r.class_id for r in rows}))),
        *s.scalars(select(DailyCredit).where(DailyCredit.trainee_id.in_(trainees), DailyCredit.day == cst_day(now))),
    ]
    if chapters:
        loaded += [*s.scalars(select(Chapter).where(Chapter.id.in_(chapters))),
                   *s.scalars(select(ChapterProgress).where(ChapterProgress.trainee_id.in_(trainees),
                                                            ChapterProgress.chapter_id.in_(chapters)))]
    if lectures:
        loaded += [*s.scalars(select(LiveLecture).where(LiveLecture.id.in_(lectures))),
                   *s.scalars(select(LectureProgress).where(LectureProgress.trainee_id.in_(trainees),
                                                            LectureProgress.lecture_id.in_(lectures)))]
    return loaded


def lock_session(s, session_id, trainee_id):
    """The trainee's own session, locked for this transaction (heartbeats of one session apply in order)."""
    sess = s.scalar(select(LearningSession).where(LearningSession.id == session_id).with_for_update())
    if sess is None or sess.trainee_id != trainee_id:
        raise RuleError("not_found", "学习会话不存在", status=404)
    return sess


def record_heartbeat(s, sess, beat, now=None):
    """Decide and record one heartbeat; a repeated sequence number gets the first answer again."""
    now = now or server_now()
    # An ended session's last_seq no longer moves, so a resend after the end must be looked up too (else a
    # second row with the same seq: the UNIQUE constraint fails the batch and the client gets a 503).
    if beat["seq"] <= sess.last_seq or sess.status != "active":
        earlier = s.scalar(select(Heartbeat.answer).where(Heartbeat.session_id == sess.id, Heartbeat.seq == beat["seq"]))
        if earlier is not None:
            return json.loads(earlier)
    cls = s.get(TrainingClass, sess.class_id)
    limits = limits_for(cls)
    day = _day_credit(s, sess.trainee_id, cst_day(now))
    checks.due_checks(s, sess, cls.photo_checks, now, media_ended=beat.get("ended", False))
    late = beat["seq"] < sess.last_seq  # arrived after a later one: recorded, never credited
    if sess.lecture_id is not None:
        lecture = s.get(LiveLecture, sess.lecture_id)
        progress = _progress(s, LectureProgress, sess.trainee_id, "lecture_id", sess.lecture_id)
        length = lecture.seconds
    else:
        chapter = s.get(Chapter, sess.chapter_id)
        progress = _progress(s, ChapterProgress, sess.trainee_id, "chapter_id", sess.chapter_id)
        length = float(chapter.seconds)
    state = State(
        last_ts=sess.last_beat_ts, last_position=sess.last_position, anchor_ts=sess.anchor_ts,
        furthest=progress.credited_seconds, chapter_seconds=length, day_credited=day.credited_seconds,
        active=sess.status == "active", blocked_since=sess.blocked_since,
    )
    stretch = Beat(now, beat["position"], beat["rate"], beat["playing"], beat["visible"], beat["focused"])
    if late:
        decision = crediting.Decision(0.0, (crediting.OUT_OF_ORDER,), sess.anchor_ts, progress.credited_seconds)
    elif sess.lecture_id is not None:
        decision = crediting.credit_presence(state, stretch, limits, lecture.starts_ts, lecture.ends_ts)
    else:
        decision = crediting.credit_stretch(state, stretch, limits)
    credited = round(decision.credited, 3)
    if credited:
        progress.credited_seconds = min(length, progress.credited_seconds + credited)
        day.credited_seconds += credited
        sess.credited_seconds += credited
    if not late and sess.status == "active":
        sess.last_seq, sess.last_beat_ts, sess.last_position = beat["seq"], now, beat["position"]
        sess.anchor_ts = decision.anchor_ts
    sess.beats += 1
    answer = {
        "seq": beat["seq"],
        "credited_seconds": credited,
        "session_credited_seconds": round(sess.credited_seconds, 3),
        **({"lecture_credited_seconds": round(progress.credited_seconds, 3),
            "ends_in_seconds": round(max(0.0, lecture.ends_ts - now), 1)} if sess.lecture_id is not None else
           {"chapter_credited_seconds": round(progress.credited_seconds, 3),
            "furthest": round(progress.credited_seconds, 3)}),
        "day_remaining_seconds": round(max(0.0, limits.daily_cap - day.credited_seconds), 3),
        "reasons": list(decision.reasons),
        "session_active": sess.status == "active",
    }
    answer["check"], answer["attention"] = pending_checks_json(s, sess, now)
    s.add(Heartbeat(
        session_id=sess.id, seq=beat["seq"], received_ts=now, position=beat["position"], rate=beat["rate"],
        playing=beat["playing"], visible=beat["visible"], focused=beat["focused"], client_time=beat["client_time"],
        env=beat["env"], credited_seconds=credited, reasons=",".join(decision.reasons),
        answer=json.dumps(answer, ensure_ascii=False),
    ))
    if sess.beats % SEAL_EVERY == 0 or sess.status != "active":
        seal_heartbeats(s, sess)  # a late heartbeat of an ended session is sealed at once: no later seal comes
    events.learner_update(s, sess, beat, answer)
    return answer


def end_session(s, sess, reason, now=None):
    """Close a session, seal its remaining heartbeats and record its totals."""
    now = now or server_now()
    if sess.status != "active":
        return session_totals(sess)
    sess.status, sess.ended_ts, sess.end_reason = "ended", now, reason
    seal_heartbeats(s, sess)
    ledger.append(s, "session.ended", {**session_totals(sess), "reason": reason}, subject_id=sess.trainee_id)
    events.session_ended(s, sess, reason)
    return session_totals(sess)


def session_totals(sess):
    end = sess.ended_ts or sess.last_beat_ts or sess.started_ts
    where = {"chapter_id": sess.chapter_id} if sess.lecture_id is None else {"lecture_id": sess.lecture_id}
    return {"session_id": sess.id, **where, "class_id": sess.class_id, "status": sess.status,
            "end_reason": sess.end_reason, "heartbeats": sess.beats,
            "credited_seconds": round(sess.credited_seconds, 3), "wall_seconds": round(end - sess.started_ts, 3)}


def heartbeat_record(hb):
    """The fields of a heartbeat that its seal proves (everything the decision was made from, and the decision)."""
    return {"seq": hb.seq, "received_ts": hb.received_ts, "position": hb.position, "rate": hb.rate,
            "playing": hb.playing, "visible": hb.visible, "focused": hb.focused, "client_time": hb.client_time,
            "env": hb.env, "credited_seconds": hb.credited_seconds, "reasons": hb.reasons}


def heartbeats_digest(rows):
    h = hashlib.sha256()
    for hb in rows:
        h.update(canonical_json(heartbeat_record(hb)) + b"\n")
    return h.hexdigest()


def _rows_between(s, session_id, after_id, upto_id=None):
    """Plain rows, not ORM objects: sealing reads them back often and needs only their values."""
    hb = Heartbeat.__table__
    q = select(hb).where(hb.c.session_id == session_id, hb.c.id > after_id)
    if upto_id is not None:
        q = q.where(hb.c.id <= upto_id)
    return s.execute(q.order_by(hb.c.id)).all()


def seal_heartbeats(s, sess):
    """Enter the digest of the session's unsealed heartbeats in the ledger: one entry proves a batch."""
    rows = _rows_between(s, sess.id, sess.sealed_upto_id)
    if not rows:
        return None
    where = {"chapter_id": sess.chapter_id} if sess.lecture_id is None else {"lecture_id": sess.lecture_id}
    entry = ledger.append(s, "heartbeats.sealed", {
        "session_id": sess.id, **where, "class_id": sess.class_id,
        "after_id": sess.sealed_upto_id, "upto_id": rows[-1].id, "count": len(rows),
        "first_seq": rows[0].seq, "last_seq": rows[-1].seq,
        "credited_seconds": round(sum(r.credited_seconds for r in rows), 3), "digest": heartbeats_digest(rows),
    }, subject_id=sess.trainee_id)
    sess.sealed_upto_id = rows[-1].id
    return entry


def check_heartbeat_seal(s, payload):
    """Ledger verification of one seal: the heartbeat rows it covers must still hash to its digest."""
    rows = _rows_between(s, payload["session_id"], payload["after_id"], payload["upto_id"])
    if len(rows) != payload["count"] or heartbeats_digest(rows) != payload["digest"]:
        return "heartbeats changed since they were sealed"
    return None


ledger.register_evidence_checker("heartbeats.sealed", check_heartbeat_seal)


def sweep_stale(s, now=None):
    """Close sessions whose player went silent (a closed tab, a killed browser) so their evidence is sealed."""
    now = now or server_now()
    stale = s.scalars(select(LearningSession).where(
        LearningSession.status == "active",
        ((LearningSession.last_beat_ts.is_(None)) & (LearningSession.started_ts < now - STALE_AFTER))
        | (LearningSession.last_beat_ts < now - STALE_AFTER))).all()
    for sess in stale:
        end_session(s, sess, "timeout", now=now)
    # A live room closes with its lecture (after a gap's grace, so the last stretch can still arrive).
    over = s.scalars(select(LearningSession).join(LiveLecture, LiveLecture.id == LearningSession.lecture_id).where(
        LearningSession.status == "active", LiveLecture.ends_ts < now - 4 * current_app.config["TRACKER_HEARTBEAT_INTERVAL"])).all()
    for sess in over:
        end_session(s, sess, "lecture_over", now=now)
    from tracker.assessment.services import expire_open_exams  # assessment builds on sessions: import late

    expire_open_exams(s, now)
    return len(stale) + len(over)




@housekeeping.every("close silent sessions", lambda cfg: cfg["TRACKER_SWEEP_INTERVAL"])
def _sweep(app):
    from tracker.extensions import db

    s = db.session
    try:
        sweep_stale(s)
        events.commit(s)  # the players and monitors of closed sessions are told
    except BaseException:
        s.rollback()
        events.discard(s)
        raise
    finally:
        db.session.remove()
