"""Question banks, quiz and exam attempts, teacher Q&A and class notices.

Questions never change once written: an edit is a new question that replaces the old one, and retiring is a
row of its own, so both tables are append-only and an attempt's paper can always be rebuilt from its seed.
Server times are epoch seconds (float), as in the learning models.
"""
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class BankQuestion(Base):
    """A question of a course's bank (题库). Append-only: content is fixed for ever."""

    __tablename__ = "bank_questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    # None: a course-level question, drawn only for the final exam.
    chapter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chapters.id"), index=True)
    # quiz | exam | both: which papers may draw it. A quiz shows the key only of a quiz-only question.
    usage: Mapped[str] = mapped_column(String(8), default="both", server_default="both")
    kind: Mapped[str] = mapped_column(String(10))  # single | multiple | truefalse | fill
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of option texts
    key: Mapped[str] = mapped_column(Text)  # JSON: option index, sorted indices, true/false, accepted texts
    score: Mapped[float]
    created_ts: Mapped[float]
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    replaces_id: Mapped[Optional[int]] = mapped_column(ForeignKey("bank_questions.id"))


class BankRetirement(Base):
    """A question taken out of the bank (deleted, or replaced by an edit). Append-only."""

    __tablename__ = "bank_retirements"
    question_id: Mapped[int] = mapped_column(ForeignKey("bank_questions.id"), primary_key=True)
    retired_ts: Mapped[float]
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    replaced_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("bank_questions.id"))


class ExamSettings(Base):
    """The final exam (结业考试) of a class: time limit, pass mark, attempts and paper size."""

    __tablename__ = "exam_settings"
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), primary_key=True)
    time_limit_minutes: Mapped[int] = mapped_column(default=60)
    pass_percent: Mapped[float] = mapped_column(default=60.0)
    max_attempts: Mapped[int] = mapped_column(default=2)
    question_count: Mapped[int] = mapped_column(default=20)  # 0: every question of the class's courses
    # Chapter quizzes of the class: attempts per chapter and minutes between two; None: the platform's default
    # (TRACKER_QUIZ_MAX_ATTEMPTS, TRACKER_QUIZ_COOLDOWN_MINUTES).
    quiz_max_attempts: Mapped[Optional[int]]
    quiz_cooldown_minutes: Mapped[Optional[int]]
    updated_ts: Mapped[Optional[float]]
    updated_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))


class Attempt(Base):
    """One sitting of a chapter quiz (章节测验) or the final exam; its paper is rules.paper(seed, candidates)."""

    __tablename__ = "assessment_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # quiz | exam
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    chapter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chapters.id"), index=True)
    seed: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[str] = mapped_column(Text)  # JSON list of the bank's question ids at the draw
    bank_sha256: Mapped[str] = mapped_column(String(64))
    question_count: Mapped[int]
    paper: Mapped[str] = mapped_column(Text)  # JSON [[question_id, [option order]], ...], as drawn
    started_ts: Mapped[float]
    deadline_ts: Mapped[Optional[float]]
    submitted_ts: Mapped[Optional[float]]
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | submitted | expired
    pass_score: Mapped[float]
    score: Mapped[Optional[float]]
    max_score: Mapped[float]
    passed: Mapped[Optional[bool]]
    photo_checks: Mapped[bool] = mapped_column(default=False)
    pending_check_id: Mapped[Optional[int]]
    next_photo_ts: Mapped[Optional[float]]
    page_leaves: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_assessment_attempts_trainee_kind", "trainee_id", "kind"),)


class AttemptAnswer(Base):
    """Every answer as given, with the server's time. Append-only: the last one per question counts."""

    __tablename__ = "attempt_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("assessment_attempts.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("bank_questions.id"))
    answer: Mapped[str] = mapped_column(Text)  # JSON, as the trainee saw the paper (displayed option indices)
    received_ts: Mapped[float]


class QaPost(Base):
    """Teacher Q&A (答疑): a trainee's question on a chapter (thread_id None) or a post in its thread. Append-only."""

    __tablename__ = "qa_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[Optional[int]] = mapped_column(ForeignKey("qa_posts.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    chapter_id: Mapped[int] = mapped_column(ForeignKey("chapters.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # who asked the thread's question
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[float]


class ClassNotice(Base):
    """A notice (通知) staff broadcast to a class. Append-only."""

    __tablename__ = "class_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[float]
