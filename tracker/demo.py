"""The demo: one institution, a regulator, a course of real video chapters, a class with three trainees, and a
class of live lectures for the same trainees."""
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select

from models import Chapter, ClassCourse, Course, Enrollment, Institution, LiveLecture, TrainingClass, User
from tracker import ledger
from tracker.accounts.rules import RuleError, id_check_digit
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.learning.crediting import CST

INSTITUTION = "呼和浩特市示范职业技能培训学校"
PASSWORD = "Demo1234"


def _id(body17):
    return body17 + id_check_digit(body17)


ACCOUNTS = [
    # role, name, phone, id number, category
    ("staff", "王老师", "13900000001", None, None),
    ("regulator", "李科长", "13900000002", None, None),
    ("admin", "平台管理员", "13900000009", None, None),
    ("trainee", "张伟", "13800000001", _id("15010219900101001"), "企业职工"),
    ("trainee", "李娜", "13800000002", _id("15010219920315002"), "下岗失业人员"),
    ("trainee", "刘洋", "13800000003", _id("15010219950720003"), "农村牧区转移就业劳动者"),
]
CHAPTERS = [("第1章 安全用电常识", 150), ("第2章 常用电工工具与仪表", 180)]


def render_chapter_video(path, title, seconds, fps=10, size=(480, 270)):
    """A real, playable VP8 WebM: the title, a clock and a moving bar, so that playback can be seen."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write WebM (VP8) here")
    try:
        for i in range(seconds * fps):
            t = i / fps
            frame = np.full((h, w, 3), (60, 40, 20), np.uint8)
            cv2.rectangle(frame, (0, h - 24), (int(w * t / seconds), h), (40, 170, 240), -1)
            cv2.circle(frame, (int(w / 2 + 120 * np.cos(t)), int(h / 2 + 50 * np.sin(t))), 18, (90, 200, 90), -1)
            cv2.putText(frame, title, (16, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
            cv2.putText(frame, f"{int(t) // 60:02d}:{int(t) % 60:02d} / {seconds // 60:02d}:{seconds % 60:02d}",
                        (16, h - 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
            writer.write(frame)
    finally:
        writer.release()


def load_demo(app):
    """Create the demo once; every call returns its accounts and classes."""
    media = Path(app.config["TRACKER_INSTANCE"]) / "media"
    with db.transaction() as s:
        loaded = s.scalar(select(Institution.id).where(Institution.name == INSTITUTION)) is not None
    if not loaded:
        # Render outside the transaction: it takes seconds and SQLite would hold its write lock meanwhile.
        for n, (_title, seconds) in enumerate(CHAPTERS, 1):
            if not (media / f"demo-ch{n}.webm").exists():
                render_chapter_video(media / f"demo-ch{n}.webm", f"Chapter {n}", seconds)
        with db.transaction() as s:
            if s.scalar(select(Institution.id).where(Institution.name == INSTITUTION)) is None:
                _create(s)
    with db.transaction() as s:
        ensure_demo_lecture(s)
    with db.transaction() as s:
        from tracker.assessment.demo_content import ensure_demo_assessment

        ensure_demo_assessment(s, INSTITUTION)  # quiz questions and the exams, also for a demo loaded before them
    with db.transaction() as s:
        return _describe(s)


def _create(s):
    inst = Institution(name=INSTITUTION, region_code="150102")
    s.add(inst)
    s.flush()
    ledger.append(s, "institution.created", {"institution_id": inst.id, "name": inst.name, "region_code": inst.region_code})
    users = {}
    for role, name, phone, idn, cat in ACCOUNTS:
        users[phone] = create_user(
            s, role=role, name=name, password=PASSWORD, phone=phone, id_number=idn, category=cat,
            institution_id=inst.id if role == "staff" else None,
            region_code="150100" if role == "regulator" else None,
            employer=INSTITUTION if role == "trainee" else None,
        )
    course = Course(institution_id=inst.id, title="电工基础（线上理论部分）", description="低压电工作业人员线上理论课程")
    s.add(course)
    s.flush()
    for n, (title, seconds) in enumerate(CHAPTERS, 1):
        s.add(Chapter(course_id=course.id, ordinal=n, title=title, video_file=f"demo-ch{n}.webm", seconds=seconds))
    cls = TrainingClass(
        institution_id=inst.id, name="2026年第12期 低压电工（线上理论）", occupation="电工（四级）", form="录播",
        start_date=date(2026, 11, 1), end_date=date(2026, 12, 31), total_hours=100, online_hours=40,
        policy_profile="standard",
    )
    s.add(cls)
    s.flush()
    s.add(ClassCourse(class_id=cls.id, course_id=course.id))
    staff = users["13900000001"]
    for role, name, phone, idn, cat in ACCOUNTS:
        if role == "trainee":
            s.add(Enrollment(class_id=cls.id, trainee_id=users[phone].id, added_by_id=staff.id))
            ledger.append(s, "roster.added", {"class_id": cls.id, "trainee_id": users[phone].id},
                          actor_id=staff.id, subject_id=users[phone].id)


LIVE_CLASS = "2026年第12期 低压电工（直播答疑）"
LECTURE_TITLE = "直播答疑：低压电工安全操作要点"
LECTURE_LEAD = 5 * 60  # starts a few minutes after loading, so `make run` shows the room's countdown, then the stream


def ensure_demo_lecture(s):
    """A class of live lectures (直播) for the demo's trainees, with a lecture unless one has yet to end.

    The lectures have a class of their own: lectures count toward their class's online hours, and the recorded
    class must stay completable by watching its chapters. The stream is the first chapter's video by its
    same-origin address (a stand-in for a real live source)."""
    from tracker.learning import lectures, sessions

    inst = s.scalar(select(Institution).where(Institution.name == INSTITUTION))
    recorded = s.scalar(select(TrainingClass).where(TrainingClass.institution_id == inst.id).order_by(TrainingClass.id).limit(1))
    staff = s.scalar(select(User).where(User.phone == ACCOUNTS[0][2]))
    cls = s.scalar(select(TrainingClass).where(TrainingClass.institution_id == inst.id, TrainingClass.name == LIVE_CLASS))
    if cls is None:
        cls = TrainingClass(institution_id=inst.id, name=LIVE_CLASS, occupation=recorded.occupation, form="直播",
                            start_date=recorded.start_date, end_date=recorded.end_date, total_hours=10, online_hours=4,
                            policy_profile="standard", photo_checks=recorded.photo_checks)
        s.add(cls)
        s.flush()
        ledger.append(s, "class.created", {"class_id": cls.id, "institution_id": inst.id, "name": cls.name,
                                            "occupation": cls.occupation, "plan": {"form": cls.form, "total_hours": 10,
                                                                                   "online_hours": 4}},
                      actor_id=staff.id)
        for role, _name, phone, _idn, _cat in ACCOUNTS:
            if role == "trainee":
                trainee = s.scalar(select(User).where(User.phone == phone))
                s.add(Enrollment(class_id=cls.id, trainee_id=trainee.id, added_by_id=staff.id))
                ledger.append(s, "roster.added", {"class_id": cls.id, "trainee_id": trainee.id},
                              actor_id=staff.id, subject_id=trainee.id)
    now = sessions.server_now()
    if s.scalar(select(LiveLecture.id).where(
            LiveLecture.class_id == cls.id, LiveLecture.status == "scheduled", LiveLecture.ends_ts > now).limit(1)):
        return None
    chapter = recorded.courses[0].chapters[0]
    starts = datetime.fromtimestamp(now + LECTURE_LEAD, CST).replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        return lectures.schedule_lecture(s, cls, staff, LECTURE_TITLE, staff.name,
                                         f"/media/chapters/{chapter.id}/video{Path(chapter.video_file).suffix}",
                                         starts, starts + timedelta(hours=2), now)
    except RuleError:
        return None  # outside the class's dates (a demo loaded after its term): no lecture then


def _describe(s):
    inst = s.scalar(select(Institution).where(Institution.name == INSTITUTION))
    accounts = []
    for role, name, phone, idn, cat in ACCOUNTS:
        user = s.scalar(select(User).where(User.phone == phone))
        accounts.append({"role": role, "username": phone, "password": PASSWORD, "user_id": user.id, "name": name,
                         "id_number": idn})
    classes = []
    for cls in s.scalars(select(TrainingClass).where(TrainingClass.institution_id == inst.id).order_by(TrainingClass.id)):
        chapters = [{"chapter_id": ch.id, "seconds": ch.seconds, "title": ch.title}
                    for course in cls.courses for ch in course.chapters]
        if not chapters:
            continue  # the live-lecture class: scripts (API.md) use a class's chapters
        classes.append({"class_id": cls.id, "name": cls.name, "institution_id": inst.id, "chapters": chapters})
    return {"accounts": accounts, "classes": classes}
