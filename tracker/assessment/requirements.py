"""Completion requirements of the assessment feature for certificates: chapter quizzes passed, final exam passed.

`register()` adds them to the certificates feature's registry (tracker.certificates.rules.REQUIREMENTS).
"""
from sqlalchemy import select

from models import Attempt
from tracker.assessment import services
from tracker.learning.checks import rfc3339


def _requirement(*args, **kwargs):
    from tracker.certificates.rules import Requirement

    return Requirement(*args, **kwargs)


def quizzes_passed(s, trainee, cls):
    """Every chapter of the class that has quiz questions (测验 or 通用) has a passed quiz."""
    chapters = [ch for ch in services.class_chapters(cls) if services.quiz_questions(s, ch)]
    passed = set(s.scalars(select(Attempt.chapter_id).where(
        Attempt.trainee_id == trainee.id, Attempt.kind == "quiz", Attempt.passed.is_(True),
        Attempt.chapter_id.in_([ch.id for ch in chapters])))) if chapters else set()
    missing = [ch.title for ch in chapters if ch.id not in passed]
    return _requirement("quizzes_passed", "章节测验合格", not missing, required=len(chapters),
                        actual=len(chapters) - len(missing),
                        message="尚未通过章节测验：" + "、".join(missing) if missing else "",
                        facts={"quizzes": {"required": len(chapters), "passed": len(chapters) - len(missing)}})


def exam_passed(s, trainee, cls):
    """The class's final exam (结业考试) passed; its score goes into the certificate."""
    attempts = s.scalars(select(Attempt).where(Attempt.trainee_id == trainee.id, Attempt.kind == "exam",
                                               Attempt.class_id == cls.id, Attempt.status != "open")
                         .order_by(Attempt.id)).all()
    passing = next((a for a in attempts if a.passed), None)
    if passing is not None:
        return _requirement("exam_passed", "结业考试合格", True, required=passing.pass_score, actual=passing.score,
                            facts={"exam": {"score": passing.score, "max_score": passing.max_score,
                                            "pass_score": passing.pass_score, "date": rfc3339(passing.submitted_ts),
                                            "attempt_id": passing.id}})
    if not attempts:
        return _requirement("exam_passed", "结业考试合格", False, message="尚未参加结业考试")
    best = max(attempts, key=lambda a: a.score or 0)
    return _requirement("exam_passed", "结业考试合格", False, required=best.pass_score, actual=best.score,
                        message=f"结业考试最高 {best.score:g} 分，未达及格线 {best.pass_score:g} 分")


def register():
    """Add both requirements to the certificates registry; False when that feature is not installed."""
    try:
        from tracker.certificates.rules import requirement
    except ImportError:
        return False
    requirement("quizzes_passed")(quizzes_passed)
    requirement("exam_passed")(exam_passed)
    return True
