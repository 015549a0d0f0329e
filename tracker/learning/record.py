"""A trainee's learning record (学习记录): what was credited, when, and the evidence around it."""
from sqlalchemy import select

from models import Chapter, ChapterProgress, Course, DailyCredit, LearningSession, LectureProgress, LiveLecture, SessionCheck
from tracker.assessment.services import trainee_results
from tracker.learning.lectures import iso
from tracker.learning.sessions import rfc3339, session_totals

END_REASONS = {"closed": "正常结束", "replaced": "在其他设备开始学习，本会话结束", "timeout": "页面无响应，超时关闭",
               "left": "离开直播间", "lecture_over": "直播结束，直播间关闭", "lecture_cancelled": "直播已取消"}
CHECK_KINDS = {"attention": "在线确认", "photo_signin": "签到拍照", "photo_random": "过程拍照", "photo_exam": "考试拍照"}
CHECK_STATUS = {"passed": "通过", "failed": "未通过", "missed": "超时未答", "pending": "待答"}
ATTEMPT_KINDS = {"quiz": "章节测验", "exam": "结业考试"}
ATTEMPT_STATUS = {"open": "作答中", "submitted": "已交卷", "expired": "超时交卷"}


def trainee_record(s, trainee):
    progress = {p.chapter_id: p.credited_seconds
                for p in s.scalars(select(ChapterProgress).where(ChapterProgress.trainee_id == trainee.id))}
    sessions = s.scalars(select(LearningSession).where(LearningSession.trainee_id == trainee.id)
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
                                             .where(LectureProgress.trainee_id == trainee.id).order_by(LiveLecture.starts_ts))]
    titles = {x["lecture_id"]: x["title"] for x in lectures}
    chapter_titles = {c["chapter_id"]: f"{c['course']} · {c['title']}" for c in chapters}
    days = [{"day": d.day.isoformat(), "credited_seconds": round(d.credited_seconds, 1)}
            for d in s.scalars(select(DailyCredit).where(DailyCredit.trainee_id == trainee.id).order_by(DailyCredit.day))
            if d.credited_seconds > 0]
    checks = [{"check_id": c.id, "session_id": c.session_id, "kind": c.kind, "asked": rfc3339(c.asked_ts),
               "answered": rfc3339(c.answered_ts) if c.answered_ts else None, "status": c.status, "reason": c.reason,
               "distance": c.distance, "kind_label": CHECK_KINDS.get(c.kind, c.kind),
               "status_label": CHECK_STATUS.get(c.status, c.status)}
              for c in s.scalars(select(SessionCheck).where(SessionCheck.trainee_id == trainee.id).order_by(SessionCheck.id))]
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
                     "status_label": ATTEMPT_STATUS.get(a["status"], a["status"])} for a in trainee_results(s, trainee)],
    }
