"""Classes, rosters and what a trainee is enrolled in."""
from sqlalchemy import select

from models import (
    Chapter, ChapterProgress, Enrollment, LearningSession, LectureProgress, LiveLecture, RosterRefusal, TrainingClass, User,
)
from tracker import ledger
from tracker.accounts.rules import RuleError, mask_id_number, validate_id_number, validate_text
from tracker.db import valid_id
from tracker.learning.policy import class_hours

def refused(s, class_id, trainee_id):
    return s.scalar(select(RosterRefusal.id).where(RosterRefusal.class_id == class_id,
                                                   RosterRefusal.trainee_id == trainee_id)) is not None


def add_to_roster(s, cls, id_number, actor, name=None):
    """Put a registered trainee on a class's roster (花名册). The name, when given, must be the one registered
    with the ID number (as in a file import); API.md's call sends the ID number alone, so there it may be
    missing. Either way the trainee sees who enrolled them and may refuse (refuse_roster)."""
    idn = validate_id_number(id_number if isinstance(id_number, str) else "")
    if name is not None:
        name = validate_text(name, "name", "姓名", 50)
    trainee = s.scalar(select(User).where(User.id_number == idn))
    if trainee is None or trainee.role != "trainee":
        raise RuleError("trainee_not_registered", "该身份证号码尚未实名注册为学员，请先让学员注册", "id_number", status=404)
    if name is not None and name != trainee.name:
        raise RuleError("name_mismatch", "姓名与该身份证号码实名注册的姓名不一致", "name", status=409)
    if s.scalar(select(Enrollment.id).where(Enrollment.class_id == cls.id, Enrollment.trainee_id == trainee.id)):
        raise RuleError("already_enrolled", "该学员已在本班期花名册中", "id_number", status=409)
    if refused(s, cls.id, trainee.id):
        raise RuleError("roster_refused", "该学员已声明未报名本班期，不能再加入花名册", "id_number", status=409)
    enrollment = Enrollment(class_id=cls.id, trainee_id=trainee.id, added_by_id=actor.id)
    s.add(enrollment)
    s.flush()
    ledger.append(s, "roster.added", {"class_id": cls.id, "trainee_id": trainee.id, "id_mask": mask_id_number(idn),
                                      "name_checked": name is not None},
                  actor_id=actor.id, subject_id=trainee.id)
    return enrollment


def refuse_roster(s, trainee, class_id):
    """The trainee says "不是我报名的": off the roster, recorded, and not to be put back. What was collected in
    the class stays (evidence is never deleted); the trainee's open sessions in it end."""
    from tracker.learning.sessions import end_session

    enrollment = s.scalar(select(Enrollment).where(Enrollment.class_id == class_id, Enrollment.trainee_id == trainee.id)) \
        if valid_id(class_id) else None
    if enrollment is None:
        raise RuleError("not_enrolled", "您不在该班期的花名册中", "class_id", status=404)
    for sess in s.scalars(select(LearningSession).where(LearningSession.trainee_id == trainee.id,
                                                        LearningSession.class_id == class_id,
                                                        LearningSession.status == "active")):
        end_session(s, sess, "closed")
    entry = ledger.append(s, "roster.refused", {"class_id": class_id, "trainee_id": trainee.id,
                                                "added_by": enrollment.added_by_id,
                                                "added_at": enrollment.created_at.isoformat()},
                          actor_id=trainee.id, subject_id=trainee.id)
    s.add(RosterRefusal(class_id=class_id, trainee_id=trainee.id, added_by_id=enrollment.added_by_id,
                        ledger_seq=entry["seq"]))
    s.delete(enrollment)
    s.flush()


def trainee_classes(s, trainee):
    """The trainee's classes with courses, chapters and credited progress, for the API and the pages."""
    rows = s.execute(
        select(TrainingClass, Enrollment).join(Enrollment, Enrollment.class_id == TrainingClass.id)
        .where(Enrollment.trainee_id == trainee.id).order_by(TrainingClass.id)
    ).all()
    progress = {
        p.chapter_id: p for p in s.scalars(select(ChapterProgress).where(ChapterProgress.trainee_id == trainee.id))
    }
    out = []
    for cls, enrollment in rows:
        courses = []
        for course in cls.courses:
            chapters = []
            for ch in course.chapters:
                p = progress.get(ch.id)
                credited = min(p.credited_seconds, ch.seconds) if p else 0.0
                chapters.append({
                    "chapter_id": ch.id, "title": ch.title, "seconds": ch.seconds,
                    "class_hours": class_hours(ch.seconds),
                    "credited_seconds": round(credited, 1),
                    "progress": round(credited / ch.seconds, 4) if ch.seconds else 0.0,
                })
            courses.append({"course_id": course.id, "title": course.title, "chapters": chapters})
        out.append({
            "class_id": cls.id, "name": cls.name, "institution": cls.institution.name,
            "institution_id": cls.institution_id, "policy_profile": cls.policy_profile,
            "start_date": cls.start_date.isoformat() if cls.start_date else None,
            "end_date": cls.end_date.isoformat() if cls.end_date else None,
            "courses": courses,
            # Who put the trainee on the roster: the trainee may refuse a place they did not ask for.
            "enrolled_by": enrollment.added_by.name if enrollment.added_by else None,
            "enrolled_at": enrollment.created_at.isoformat() if enrollment.created_at else None,
        })
    return out


def class_roster(s, cls):
    return s.scalars(
        select(User).join(Enrollment, Enrollment.trainee_id == User.id).where(Enrollment.class_id == cls.id).order_by(User.id)
    ).all()


def chapter_in_trainee_classes(s, trainee, chapter_id):
    """The chapter and the class through which the trainee may study it, or (None, None)."""
    from models import ClassCourse

    if not valid_id(chapter_id):
        return None, None
    row = s.execute(
        select(Chapter, Enrollment.class_id)
        .join(ClassCourse, ClassCourse.course_id == Chapter.course_id)
        .join(Enrollment, Enrollment.class_id == ClassCourse.class_id)
        .where(Chapter.id == chapter_id, Enrollment.trainee_id == trainee.id)
        .order_by(Enrollment.class_id)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def day_remaining_seconds(s, trainee, now):
    """Today's remaining online allowance (China Standard Time), under the strictest policy of the trainee's classes."""
    from models import DailyCredit
    from tracker.learning.crediting import cst_day
    from tracker.learning.policy import policy_for

    profiles = s.scalars(select(TrainingClass.policy_profile).join(Enrollment, Enrollment.class_id == TrainingClass.id)
                         .where(Enrollment.trainee_id == trainee.id)).all()
    cap = min((policy_for(p).daily_cap_seconds for p in profiles), default=policy_for("standard").daily_cap_seconds)
    today = s.get(DailyCredit, (trainee.id, cst_day(now)))
    return max(0.0, cap - (today.credited_seconds if today else 0.0))


def credited_within(progress, items):
    """Σ min(credited, length) over (key, length) items: time beyond one item's length never counts for another."""
    return sum(min(progress.get(key, 0.0), length) for key, length in items)


def class_content(s, cls):
    """The online content a class requires, as ((kind, id), seconds) items: its chapters' length and the
    scheduled time of its live lectures, cancelled ones aside."""
    chapters = [(("chapter", ch.id), ch.seconds) for course in cls.courses for ch in course.chapters]
    lectures = [(("lecture", x.id), x.seconds) for x in s.scalars(
        select(LiveLecture).where(LiveLecture.class_id == cls.id, LiveLecture.status != "cancelled"))]
    return chapters, lectures


def class_online_time(s, trainee, cls):
    """(credited, required) online seconds of a class: its content's length (class_content) and what the
    trainee has been credited of each item. The exam's unlock and the certificate's hours requirement both
    measure this."""
    chapters, lectures = class_content(s, cls)
    progress = {}
    if chapters:
        progress.update({("chapter", cid): sec for cid, sec in s.execute(
            select(ChapterProgress.chapter_id, ChapterProgress.credited_seconds).where(
                ChapterProgress.trainee_id == trainee.id, ChapterProgress.chapter_id.in_([k[1] for k, _ in chapters])))})
    if lectures:
        progress.update({("lecture", lid): sec for lid, sec in s.execute(
            select(LectureProgress.lecture_id, LectureProgress.credited_seconds).where(
                LectureProgress.trainee_id == trainee.id, LectureProgress.lecture_id.in_([k[1] for k, _ in lectures])))})
    items = chapters + lectures
    return credited_within(progress, items), float(sum(length for _key, length in items))
