"""A trainee's learning record (学习记录): what was credited, when, and the evidence around it."""
from sqlalchemy import select

from models import Chapter, ChapterProgress, Course, DailyCredit, LearningSession, LectureProgress, LiveLecture, SessionCheck
from tracker.assessment.services import trainee_results
from tracker.learning.lectures import iso
from tracker.learning.sessions import rfc3339, session_totals


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
    days = [{"day": d.day.isoformat(), "credited_seconds": round(d.credited_seconds, 1)}
            for d in s.scalars(select(DailyCredit).where(DailyCredit.trainee_id == trainee.id).order_by(DailyCredit.day))
            if d.credited_seconds > 0]
    checks = [{"check_id": c.id, "session_id": c.session_id, "kind": c.kind, "asked": rfc3339(c.asked_ts),
               "answered": rfc3339(c.answered_ts) if c.answered_ts else None, "status": c.status, "reason": c.reason,
               "distance": c.distance}
              for c in s.scalars(select(SessionCheck).where(SessionCheck.trainee_id == trainee.id).order_by(SessionCheck.id))]
    return {
        "trainee_id": trainee.id,
        "name": trainee.name,
        "total_credited_seconds": round(sum(progress.values()) + sum(x["credited_seconds"] for x in lectures), 1),
        "chapters": chapters,
        "lectures": lectures,
        "days": days,
        "sessions": [{**session_totals(x), "lecture_title": titles.get(x.lecture_id), "started": rfc3339(x.started_ts),
                      "ended": rfc3339(x.ended_ts) if x.ended_ts else None} for x in sessions],
        "checks": checks,
        "quizzes": trainee_results(s, trainee),
    }
