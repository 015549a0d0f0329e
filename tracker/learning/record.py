"""A trainee's learning record (学习记录): what was credited, when, and the evidence around it."""
from collections import defaultdict

from sqlalchemy import select, true

from models import (
    Attempt, Chapter, ChapterProgress, ClassCourse, Course, DailyCredit, Heartbeat, LearningSession, LectureProgress,
    LiveLecture, SessionCheck,
)
from tracker.assessment.services import trainee_results
from tracker.learning.crediting import cst_day
from tracker.learning.lectures import iso
from tracker.learning.sessions import rfc3339, session_totals
from tracker.security import EVERYTHING, in_scope, scope_allows

END_REASONS = {"closed": "正常结束", "replaced": "在其他设备开始学习，本会话结束", "timeout": "页面无响应，超时关闭",
               "left": "离开直播间", "lecture_over": "直播结束，直播间关闭", "lecture_cancelled": "直播已取消"}
CHECK_KINDS = {"attention": "在线确认", "photo_signin": "签到拍照", "photo_random": "过程拍照", "photo_exam": "考试拍照"}
CHECK_STATUS = {"passed": "通过", "failed": "未通过", "missed": "超时未答", "pending": "待答"}
ATTEMPT_KINDS = {"quiz": "章节测验", "exam": "结业考试"}
ATTEMPT_STATUS = {"open": "作答中", "submitted": "已交卷", "expired": "超时交卷"}


def checks_in_scope(scope):
    """Checks belong to the class of their session (sign-in, random, attention) or exam attempt."""
    if scope is EVERYTHING:
        return true()
    return (SessionCheck.session_id.in_(select(LearningSession.id).where(in_scope(LearningSession.class_id, scope)))
            | SessionCheck.attempt_id.in_(select(Attempt.id).where(in_scope(Attempt.class_id, scope))))


def chapters_in_scope(scope):
    if scope is EVERYTHING:
        return true()
    return ChapterProgress.chapter_id.in_(
        select(Chapter.id).join(ClassCourse, ClassCourse.course_id == Chapter.course_id)
        .where(in_scope(ClassCourse.class_id, scope)))


def daily_credit(s, trainee, scope=EVERYTHING):
    """Credited seconds per day (China Standard Time). A limited scope adds up its own classes' heartbeats:
    the per-day totals mix every class the trainee studies in."""
    if scope is EVERYTHING:
        rows = [(d.day, d.credited_seconds) for d in s.scalars(
            select(DailyCredit).where(DailyCredit.trainee_id == trainee.id).order_by(DailyCredit.day))]
    else:
        per_day = defaultdict(float)
        for ts, sec in s.execute(select(Heartbeat.received_ts, Heartbeat.credited_seconds)
                                 .join(LearningSession, LearningSession.id == Heartbeat.session_id)
                                 .where(LearningSession.trainee_id == trainee.id, Heartbeat.credited_seconds > 0,
                                        in_scope(LearningSession.class_id, scope))):
            per_day[cst_day(ts)] += sec
        rows = sorted(per_day.items())
    return [{"day": day.isoformat(), "credited_seconds": round(sec, 1)} for day, sec in rows if sec > 0]


def trainee_record(s, trainee, scope=EVERYTHING):
    """The record as `scope` (security.evidence_scope) lets its viewer see it."""
    progress = {p.chapter_id: p.credited_seconds
                for p in s.scalars(select(ChapterProgress).where(ChapterProgress.trainee_id == trainee.id,
                                                                chapters_in_scope(scope)))}
    sessions = s.scalars(select(LearningSession).where(LearningSession.trainee_id == trainee.id,
                                                       in_scope(LearningSession.class_id, scope))
                         .order_by(LearningSession.id.desc())).all()
    chapter_ids = set(progress) | {x.chapter_id for x in sessions if x.chapter_id is not None}
    chapters = []
    if chapter_ids:
        for ch, course_title in s.execute(select(Chapter, Course.title).join(Course).where(Chapter.id.in_(chapter_ids))
                                          .order_by(Chapter.course_id, Chapter.ordinal)):
            chapters.append({"chapter_id": ch.id, "course": course_title, "title": ch.title, "seconds": ch.seconds,
                             "credited_seconds": round(progress.get(ch.id, 0.0), 1)})
    lectures = [{"lecture_id": x.id, "title": x.title, "starts_at": iso(x.starts_ts), "seconds": round(x.seconds),
                 "credited_seconds": round(credited, 1)}
                for x, credited in s.execute(select(LiveLecture, LectureProgress.credited_seconds)
                                             .join(LectureProgress, LectureProgress.lecture_id == LiveLecture.id)
                                             .where(LectureProgress.trainee_id == trainee.id,
                                                    in_scope(LiveLecture.class_id, scope))
                                             .order_by(LiveLecture.starts_ts))]
    titles = {x["lecture_id"]: x["title"] for x in lectures}
    chapter_titles = {c["chapter_id"]: f"{c['course']} · {c['title']}" for c in chapters}
    days = daily_credit(s, trainee, scope)
    checks = [{"check_id": c.id, "session_id": c.session_id, "kind": c.kind, "asked": rfc3339(c.asked_ts),
               "answered": rfc3339(c.answered_ts) if c.answered_ts else None, "status": c.status, "reason": c.reason,
               "distance": c.distance, "kind_label": CHECK_KINDS.get(c.kind, c.kind),
               "status_label": CHECK_STATUS.get(c.status, c.status)}
              for c in s.scalars(select(SessionCheck).where(SessionCheck.trainee_id == trainee.id, checks_in_scope(scope))
                                 .order_by(SessionCheck.id))]
    return {
        "trainee_id": trainee.id,
        "name": trainee.name,
        "total_credited_seconds": round(sum(progress.values()) + sum(x["credited_seconds"] for x in lectures), 1),
        "chapters": chapters,
        "lectures": lectures,
        "days": days,
        "sessions": [{**session_totals(x), "lecture_title": titles.get(x.lecture_id),
                      "title": f"直播：{titles.get(x.lecture_id, '')}" if x.lecture_id else chapter_titles.get(x.chapter_id),
                      "end_reason_label": END_REASONS.get(x.end_reason, x.end_reason or "进行中"),
                      "started": rfc3339(x.started_ts), "ended": rfc3339(x.ended_ts) if x.ended_ts else None}
                     for x in sessions],
        "checks": checks,
        "quizzes": [{**a, "kind_label": ATTEMPT_KINDS.get(a["kind"], a["kind"]),
                     "status_label": ATTEMPT_STATUS.get(a["status"], a["status"])} for a in trainee_results(s, trainee)
                    if scope_allows(scope, a["class_id"])],
    }
