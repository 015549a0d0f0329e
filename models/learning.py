from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Course(Base):
    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    chapters: Mapped[list["Chapter"]] = relationship(back_populates="course", order_by="Chapter.ordinal")


class Chapter(Base):
    __tablename__ = "chapters"
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    ordinal: Mapped[int]
    title: Mapped[str] = mapped_column(String(100))
    # Path of the video relative to the instance folder's media/ directory.
    video_file: Mapped[Optional[str]] = mapped_column(String(255))
    # Length of the video; credited time per chapter never exceeds it.
    seconds: Mapped[int]

    course: Mapped[Course] = relationship(back_populates="chapters")


class TrainingClass(Base):
    """A class (班期) with its teaching plan (教学计划)."""

    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    occupation: Mapped[str] = mapped_column(String(100), default="")
    form: Mapped[str] = mapped_column(String(10), default="录播")
    start_date: Mapped[Optional[date]] = mapped_column(Date)
    end_date: Mapped[Optional[date]] = mapped_column(Date)
    total_hours: Mapped[float] = mapped_column(default=0)
    online_hours: Mapped[float] = mapped_column(default=0)
    policy_profile: Mapped[str] = mapped_column(String(32), default="standard")
    # Photo checks (签到 and 过程拍照): on for every class unless the institution turns them off.
    photo_checks: Mapped[bool] = mapped_column(default=True)
    # Liveness at sign-in: a burst of frames in which the trainee blinks (eye aspect ratio dips and recovers).
    liveness: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    institution = relationship("Institution")
    courses: Mapped[list[Course]] = relationship(secondary="class_courses", order_by="Course.id")


class ClassCourse(Base):
    __tablename__ = "class_courses"
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)


class Enrollment(Base):
    """A trainee on a class's roster (花名册)."""

    __tablename__ = "enrollments"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Who put the trainee on the roster (staff, admin; None for the demo): the trainee sees it and may refuse.
    added_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("class_id", "trainee_id"),)
    training_class: Mapped[TrainingClass] = relationship()
    trainee = relationship("User", foreign_keys=[trainee_id])
    added_by = relationship("User", foreign_keys=[added_by_id])


class RosterRefusal(Base):
    """A trainee said "不是我报名的" about a class: taken off its roster, and not to be put back on it."""

    __tablename__ = "roster_refusals"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    ledger_seq: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("class_id", "trainee_id"),)


class LiveLecture(Base):
    """A scheduled live lecture (直播) of a class: attendance in its live room is credited like video time.

    Times are server epoch seconds, as for sessions. Once it has begun, its schedule is fixed; only a
    recording can be attached afterwards. Every change is in the ledger.
    """

    __tablename__ = "live_lectures"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    teacher: Mapped[str] = mapped_column(String(50), default="")
    # An HLS playlist (.m3u8) or a video file played in the room, or an external platform's embeddable page.
    stream_url: Mapped[str] = mapped_column(String(500))
    starts_ts: Mapped[float]
    ends_ts: Mapped[float]
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | cancelled
    # The recording (视频录制), relative to the instance's media/ directory, kept with the class archive.
    recording_file: Mapped[Optional[str]] = mapped_column(String(255))
    recording_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    recording_seconds: Mapped[Optional[int]]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    training_class: Mapped[TrainingClass] = relationship()

    @property
    def seconds(self):
        return max(0.0, self.ends_ts - self.starts_ts)


class LectureProgress(Base):
    """Credited attendance per trainee and lecture (the counterpart of ChapterProgress)."""

    __tablename__ = "lecture_progress"
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("live_lectures.id"), primary_key=True)
    credited_seconds: Mapped[float] = mapped_column(default=0.0)


class LearningSession(Base):
    """One sitting at the player (学习会话) on a chapter, or in a live lecture's room. Only one per trainee
    is active at a time.

    Server times are epoch seconds (float): exact round-trips on every database, simple arithmetic.
    """

    __tablename__ = "learning_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    chapter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chapters.id"), index=True)
    lecture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("live_lectures.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    started_ts: Mapped[float]
    ended_ts: Mapped[Optional[float]]
    end_reason: Mapped[Optional[str]] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    address: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(300))
    # Running state of the heartbeat stream (the heartbeat log is the evidence; this is its summary).
    last_seq: Mapped[int] = mapped_column(default=0)
    last_beat_ts: Mapped[Optional[float]]
    last_position: Mapped[float] = mapped_column(default=0.0)
    # Server time up to which the session's clock budget has been spent (see crediting.credit_stretch).
    anchor_ts: Mapped[Optional[float]]
    credited_seconds: Mapped[float] = mapped_column(default=0.0)
    beats: Mapped[int] = mapped_column(default=0)
    # Heartbeat rows up to this id are sealed into the ledger (see sessions.seal_heartbeats).
    sealed_upto_id: Mapped[int] = mapped_column(default=0)
    # Crediting stops from this server time: a check is pending (held), or one was missed or failed.
    blocked_since: Mapped[Optional[float]]
    block_reason: Mapped[Optional[str]] = mapped_column(String(32))
    pending_check_id: Mapped[Optional[int]]
    next_attention_ts: Mapped[Optional[float]]
    next_photo_ts: Mapped[Optional[float]]

    __table_args__ = (CheckConstraint("(chapter_id IS NULL) != (lecture_id IS NULL)", name="chapter_or_lecture"),)
    trainee = relationship("User")
    chapter: Mapped[Optional[Chapter]] = relationship()
    lecture: Mapped[Optional[LiveLecture]] = relationship()


class SessionCheck(Base):
    """A check put to the trainee: "are you still here?" (attention) or a photo (sign-in, random, exam)."""

    __tablename__ = "session_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[Optional[int]] = mapped_column(ForeignKey("learning_sessions.id"), index=True)
    attempt_id: Mapped[Optional[int]] = mapped_column(ForeignKey("assessment_attempts.id"), index=True)  # exam checks
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # attention | photo_signin | photo_random | photo_exam
    asked_ts: Mapped[float]
    deadline_ts: Mapped[float]
    answered_ts: Mapped[Optional[float]]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | passed | failed | missed
    reason: Mapped[Optional[str]] = mapped_column(String(40))
    distance: Mapped[Optional[float]]
    photo_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    photo_file: Mapped[Optional[str]] = mapped_column(String(255))


class Heartbeat(Base):
    """Every heartbeat with the server's decision about it. Append-only (triggers)."""

    __tablename__ = "heartbeats"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("learning_sessions.id"))
    seq: Mapped[int]
    received_ts: Mapped[float]
    position: Mapped[float]
    rate: Mapped[float]
    playing: Mapped[bool]
    visible: Mapped[bool]
    focused: Mapped[bool]
    client_time: Mapped[Optional[float]]
    env: Mapped[str] = mapped_column(Text, default="{}")
    credited_seconds: Mapped[float] = mapped_column(default=0.0)
    reasons: Mapped[str] = mapped_column(String(200), default="")
    # The answer given to the client, returned again for a duplicate sequence number.
    answer: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (UniqueConstraint("session_id", "seq"),)


class ChapterProgress(Base):
    """Credited time per trainee and chapter. Only newly covered ground is credited, so it is also the
    furthest verified point of the video: playback resumes there and may not seek past it."""

    __tablename__ = "chapter_progress"
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    chapter_id: Mapped[int] = mapped_column(ForeignKey("chapters.id"), primary_key=True)
    credited_seconds: Mapped[float] = mapped_column(default=0.0)


class DailyCredit(Base):
    """Credited time per trainee and day (China Standard Time), across every class: the daily cap."""

    __tablename__ = "daily_credit"
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credited_seconds: Mapped[float] = mapped_column(default=0.0)
