"""A trainee's trace (学习轨迹) for the inspector: every session with its credited and uncredited stretches,
every check with its photo, quiz and exam answers, Q&A, flags, risk and the regulator's reviews of it, and the
data of two charts.

`stretches` and `study_by_hour` are pure; `trainee_trace` reads the database for one trainee.
"""
import json
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from models import (
    Attempt, AttemptAnswer, Chapter, Course, FaceEnrolment, FaceFlag, FacePhoto, Heartbeat,
    LearningSession, LiveLecture, QaPost, SessionCheck, TrainingClass, User,
)
from tracker.assessment import rules
from tracker.assessment.services import paper_questions
from tracker.learning.checks import rfc3339
from tracker.learning.crediting import REASON_LABELS
from tracker.learning.record import CHECK_KINDS, CHECK_STATUS, END_REASONS, checks_in_scope, daily_credit
from tracker.proctoring.faces import MESSAGES as PHOTO_REASONS
from tracker.proctoring.services import KIND_LABELS as FLAG_LABELS
from tracker.regulator import evidence, reviews
from tracker.regulator.anomalies import CST, LEVEL_LABELS, active_spans
from tracker.regulator.evidence import cst
from tracker.regulator.search import person_json, trainee_classes, visible_institution_ids
from tracker.security import evidence_scope, in_scope

STUDY_GAP = 120.0  # heartbeats further apart than this are not time at the player (heat map)


def reason_label(code):
    return REASON_LABELS.get(code, code)


def stretches(beats):
    """Group a session's heartbeats, in order, into stretches with the same decision.

    beats: (seq, received_ts, position, credited_seconds, reasons) with reasons a comma-separated text or a list.
    A heartbeat decides the stretch since the one before it, so a stretch runs from the heartbeat before its
    first to its last. Credited heartbeats form one stretch whatever trimmed them (their reasons are listed);
    uncredited ones split wherever the reasons change.
    """
    out = []
    prev_ts = None
    for seq, ts, position, credited, reasons in beats:
        codes = [r for r in (reasons.split(",") if isinstance(reasons, str) else reasons or []) if r]
        key = ("credited",) if credited > 0 else ("refused", tuple(codes))
        if out and out[-1]["key"] == key:
            cur = out[-1]
            cur.update(to_ts=ts, last_seq=seq, beats=cur["beats"] + 1, position_to=position)
            cur["credited_seconds"] += credited
            cur["reasons"] += [c for c in codes if c not in cur["reasons"]]
        else:
            out.append({"key": key, "from_ts": prev_ts if prev_ts is not None else ts, "to_ts": ts, "first_seq": seq,
                        "last_seq": seq, "beats": 1, "credited": credited > 0, "credited_seconds": credited,
                        "reasons": list(codes), "position_from": position, "position_to": position})
        prev_ts = ts
    for st in out:
        del st["key"]
        st["credited_seconds"] = round(st["credited_seconds"], 3)
        st["seconds"] = round(st["to_ts"] - st["from_ts"], 3)
        st["labels"] = [reason_label(c) for c in st["reasons"]] or ([] if st["credited"] else ["未计入"])
    return out


def study_by_hour(spans):
    """Seconds at the player per day and hour of day (China Standard Time): a heat map's cells.

    spans: (start, end) epoch seconds. Returns {"days": [{"day", "hours": [24 seconds]}], "totals": [24 seconds]}.
    """
    cells = defaultdict(lambda: [0.0] * 24)
    for a, b in spans:
        t = a
        while t < b:
            moment = datetime.fromtimestamp(t, CST)
            hour_end = (moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).timestamp()
            end = min(b, hour_end)
            cells[moment.date().isoformat()][moment.hour] += end - t
            t = end
    days = [{"day": d, "hours": [round(x) for x in cells[d]]} for d in sorted(cells)]
    totals = [sum(d["hours"][h] for d in days) for h in range(24)]
    return {"days": days, "totals": totals}


def _env(text):
    try:
        env = json.loads(text or "{}")
    except ValueError:
        return {}
    return env if isinstance(env, dict) else {}


def _shown(q, order, value):
    """An answer or key in the paper's terms as a trainee saw it: letters, 正确/错误 or text."""
    if value is None:
        return ""
    if q.kind == "single" and isinstance(value, int):
        return rules.LETTERS[value] if 0 <= value < len(rules.LETTERS) else str(value)
    if q.kind == "multiple" and isinstance(value, list):
        return "".join(rules.LETTERS[i] for i in value if isinstance(i, int) and 0 <= i < len(rules.LETTERS))
    if q.kind == "truefalse":
        return "正确" if value is True else "错误" if value is False else str(value)
    return " / ".join(value) if isinstance(value, list) else str(value)


def _attempts(s, trainee, scope):
    rows = s.execute(select(Attempt, Chapter.title, TrainingClass.name).outerjoin(Chapter, Chapter.id == Attempt.chapter_id)
                     .join(TrainingClass, TrainingClass.id == Attempt.class_id)
                     .where(Attempt.trainee_id == trainee.id, in_scope(Attempt.class_id, scope))
                     .order_by(Attempt.started_ts)).all()
    out = []
    for a, chapter, class_name in rows:
        given = {}
        for qid, answer, ts in s.execute(select(AttemptAnswer.question_id, AttemptAnswer.answer, AttemptAnswer.received_ts)
                                         .where(AttemptAnswer.attempt_id == a.id).order_by(AttemptAnswer.id)):
            given[qid] = (json.loads(answer), ts)
        questions = []
        for n, (q, order) in enumerate(paper_questions(s, a), 1):
            value, ts = given.get(q.id, (None, None))
            questions.append({"n": n, "question_id": q.id, "type": rules.KINDS[q.kind], "text": q.text,
                              "options": rules.shown_options(q, order) if q.kind != "fill" else [],
                              "answer": _shown(q, order, value), "key": _shown(q, order, rules.shown_key(q, order)),
                              "correct": q.id in given and bool(rules.is_correct(q, order, value)),
                              "answered_ts": ts, "answered": cst(ts)})
        out.append({"attempt_id": a.id, "kind": a.kind, "kind_label": "结业考试" if a.kind == "exam" else "章节测验",
                    "class_id": a.class_id, "class": class_name, "chapter": chapter, "status": a.status,
                    "started_ts": a.started_ts, "started": cst(a.started_ts), "submitted": cst(a.submitted_ts),
                    "score": a.score, "max_score": a.max_score, "pass_score": a.pass_score, "passed": a.passed,
                    "page_leaves": a.page_leaves, "seed": a.seed, "questions": questions})
    return out


def _qa(s, trainee, scope):
    posts = s.scalars(select(QaPost).where(QaPost.trainee_id == trainee.id, in_scope(QaPost.class_id, scope))
                      .order_by(QaPost.id)).all()
    authors = {u.id: u for u in s.scalars(select(User).where(User.id.in_({p.author_id for p in posts} or {0})))}
    chapters = dict(s.execute(select(Chapter.id, Chapter.title).where(Chapter.id.in_({p.chapter_id for p in posts} or {0}))).all())
    threads = {}
    for p in posts:
        root = p.thread_id or p.id
        thread = threads.setdefault(root, {"thread_id": root, "chapter": chapters.get(p.chapter_id, ""),
                                           "class_id": p.class_id, "posts": []})
        author = authors.get(p.author_id)
        thread["posts"].append({"post_id": p.id, "author": author.name if author else "",
                                "by_trainee": p.author_id == trainee.id, "text": p.body, "at": cst(p.created_ts),
                                "created_ts": p.created_ts})
    return list(threads.values())


def _checks(s, trainee, scope):
    rows = s.scalars(select(SessionCheck).where(SessionCheck.trainee_id == trainee.id, checks_in_scope(scope))
                     .order_by(SessionCheck.asked_ts)).all()
    photos = {}
    if rows:
        for pid, check_id in s.execute(select(FacePhoto.id, FacePhoto.check_id).where(
                FacePhoto.trainee_id == trainee.id, FacePhoto.check_id.is_not(None), FacePhoto.file.is_not(None))):
            photos[check_id] = pid
    return [{"check_id": c.id, "session_id": c.session_id, "attempt_id": c.attempt_id, "kind": c.kind,
             "kind_label": CHECK_KINDS.get(c.kind, c.kind), "status": c.status,
             "status_label": CHECK_STATUS.get(c.status, c.status), "reason": c.reason,
             "reason_label": PHOTO_REASONS.get(c.reason, c.reason or ""), "distance": c.distance,
             "asked_ts": c.asked_ts, "asked": cst(c.asked_ts), "answered": cst(c.answered_ts),
             "photo_sha256": c.photo_sha256, "photo_id": photos.get(c.id)} for c in rows]


def _flags(s, trainee):
    rows = s.scalars(select(FaceFlag).where((FaceFlag.trainee_id == trainee.id) | (FaceFlag.other_trainee_id == trainee.id))
                     .order_by(FaceFlag.id)).all()
    return [{"flag_id": f.id, "kind": f.kind, "label": FLAG_LABELS.get(f.kind, f.kind),
             "role": "tried" if f.trainee_id == trainee.id else "enrolled", "trainee_id": f.trainee_id,
             "other_trainee_id": f.other_trainee_id, "distance": f.distance, "status": f.status,
             "ledger_seq": f.ledger_seq, "created_at": f.created_at.isoformat()} for f in rows]


def _sessions(s, trainee, scope):
    rows = s.execute(select(LearningSession, Chapter.title, Course.title, TrainingClass.name, LiveLecture.title)
                     .outerjoin(Chapter, Chapter.id == LearningSession.chapter_id)
                     .outerjoin(Course, Course.id == Chapter.course_id)
                     .outerjoin(LiveLecture, LiveLecture.id == LearningSession.lecture_id)
                     .join(TrainingClass, TrainingClass.id == LearningSession.class_id)
                     .where(LearningSession.trainee_id == trainee.id, in_scope(LearningSession.class_id, scope))
                     .order_by(LearningSession.started_ts)).all()
    beats = defaultdict(list)
    envs = {}
    if rows:
        q = (select(Heartbeat.session_id, Heartbeat.seq, Heartbeat.received_ts, Heartbeat.position,
                    Heartbeat.credited_seconds, Heartbeat.reasons, Heartbeat.env)
             .join(LearningSession, LearningSession.id == Heartbeat.session_id)
             .where(LearningSession.trainee_id == trainee.id, in_scope(LearningSession.class_id, scope))
             .order_by(Heartbeat.session_id, Heartbeat.id))
        for sid, seq, ts, position, credited, reasons, env in s.execute(q):
            beats[sid].append((seq, ts, position, credited, reasons))
            envs.setdefault(sid, env)
    out, spans = [], []
    for x, chapter, course, class_name, lecture in rows:
        env = _env(envs.get(x.id))
        times = [b[1] for b in beats[x.id]]
        spans += active_spans(times, STUDY_GAP)
        end = x.ended_ts or (times[-1] if times else None)
        parts = stretches(beats[x.id])
        for st in parts:
            st["from"], st["to"] = cst(st["from_ts"]), cst(st["to_ts"])
        out.append({"session_id": x.id, "class_id": x.class_id, "class": class_name, "chapter_id": x.chapter_id,
                    "lecture_id": x.lecture_id, "chapter": f"直播：{lecture}" if x.lecture_id else f"{course} · {chapter}",
                    "status": x.status, "started_ts": x.started_ts,
                    "started": cst(x.started_ts), "ended_ts": x.ended_ts, "ended": cst(x.ended_ts),
                    "wall_seconds": round((end or x.started_ts) - x.started_ts, 1),
                    "end_reason": x.end_reason, "end_reason_label": END_REASONS.get(x.end_reason, x.end_reason or "进行中"),
                    "address": x.address, "user_agent": x.user_agent, "heartbeats": len(times),
                    "credited_seconds": round(x.credited_seconds, 1),
                    "env": {k: env.get(k) for k in ("ua", "webdriver", "screen", "tz", "lang", "touch") if k in env},
                    "stretches": parts})
    return out, spans


def trainee_trace(s, viewer, trainee):
    """Everything an inspector looks at for one trainee (the caller has checked can_view_trainee), as far as
    evidence_scope lets the viewer see it."""
    institutions = visible_institution_ids(s, viewer)
    scope = evidence_scope(s, viewer, trainee)
    sessions, spans = _sessions(s, trainee, scope)
    enrolment = s.scalar(select(FaceEnrolment).where(FaceEnrolment.trainee_id == trainee.id, FaceEnrolment.active)
                         .order_by(FaceEnrolment.id.desc()))
    days = daily_credit(s, trainee, scope)
    out = {
        "trainee": {**person_json(trainee), "classes": trainee_classes(s, trainee.id, institutions),
                    "face_photo_id": enrolment.photo_id if enrolment else None,
                    "face_enrolled": enrolment.created_at.isoformat() if enrolment else None},
        "generated": rfc3339(datetime.now().timestamp()),
        "total_credited_seconds": round(sum(d["credited_seconds"] for d in days), 1),
        "sessions": sessions,
        "checks": _checks(s, trainee, scope),
        "attempts": _attempts(s, trainee, scope),
        "qa": _qa(s, trainee, scope),
        "flags": _flags(s, trainee),
        "daily": days,
        "hours": study_by_hour(spans),
    }
    risks, facts = evidence.assess(s, viewer, focus={trainee.id})
    readable = evidence.readable(s, risks, facts["scope"], institutions)
    out["risk"] = readable[0] if readable else {"trainee_id": trainee.id, "score": 0, "level": "none",
                                                "level_label": LEVEL_LABELS["none"], "signs": []}
    # The regulator's reviews of the findings (监督检查记录), newest first: the first is the current conclusion.
    out["reviews"] = reviews.history_json(s, viewer, trainee.id) if reviews.can_read_reviews(s, viewer, trainee) else []
    return out
