"""When a trainee may have a certificate: a registry of completion requirements, each a plain function.

Other features add theirs with @requirement, e.g. the assessment feature's final exam:

    @requirement("exam_passed")
    def exam_passed(s, trainee, cls):
        ...
        return Requirement("exam_passed", "结业考试合格", met, required=60, actual=score,
                           message="结业考试成绩 …", facts={"exam": {"score": score, "max_score": 100, "date": "…"}})

A requirement's `facts` go into the certificate (the "exam" fact is printed as the exam score).
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from models import ChapterProgress, Enrollment
from tracker.learning.policy import class_hours, policy_for
from tracker.learning.services import class_online_time

@dataclass
class Requirement:
    code: str
    label: str
    met: bool
    required: object = None
    actual: object = None
    message: str = ""
    facts: dict = field(default_factory=dict)

    def as_json(self):
        return {"code": self.code, "label": self.label, "met": self.met, "required": self.required,
                "actual": self.actual, "message": self.message}


# (code, fn(s, trainee, cls) -> Requirement), checked in order.
REQUIREMENTS = []


def requirement(code):
    def register(fn):
        REQUIREMENTS[:] = [(c, f) for c, f in REQUIREMENTS if c != code] + [(code, fn)]
        return fn

    return register


def class_chapters(cls):
    return [(course, ch) for course in cls.courses for ch in course.chapters]


def credited_by_chapter(s, trainee, cls):
    """Credited seconds per chapter of the class, never more than the chapter's length."""
    chapters = class_chapters(cls)
    ids = [ch.id for _course, ch in chapters]
    progress = {p.chapter_id: p.credited_seconds for p in s.scalars(
        select(ChapterProgress).where(ChapterProgress.trainee_id == trainee.id, ChapterProgress.chapter_id.in_(ids)))} if ids else {}
    return {ch.id: min(float(ch.seconds), progress.get(ch.id, 0.0)) for _course, ch in chapters}


@requirement("enrolled")
def enrolled(s, trainee, cls):
    on_roster = trainee.role == "trainee" and s.scalar(
        select(Enrollment.id).where(Enrollment.class_id == cls.id, Enrollment.trainee_id == trainee.id)) is not None
    return Requirement("enrolled", "在本班期花名册中", on_roster, message="" if on_roster else "该学员不在本班期花名册中")


@requirement("online_hours")
def online_hours(s, trainee, cls):
    """Completed the class's hours: at least 95% of them credited (003 art. 10, the policy's share)."""
    share = policy_for(cls.policy_profile).exam_unlock_share
    credited, required = class_online_time(s, trainee, cls)
    met = required > 0 and credited + 1e-6 >= share * required
    message = (f"线上有效学时 {class_hours(credited)} 课时，应不少于 {class_hours(share * required)} 课时"
               f"（规定 {class_hours(required)} 课时的{share:.0%}）")
    if required == 0:
        message = "本班期尚无课程章节或直播，无学时可计"
    return Requirement("online_hours", "完成规定线上学时", met, required=int(required), actual=int(credited), message=message,
                       facts={"online": {"required_seconds": int(required), "credited_seconds": int(credited),
                                         "required_class_hours": class_hours(required),
                                         "credited_class_hours": class_hours(credited)}})


def eligibility(s, trainee, cls):
    """What is met and what is missing for a certificate of `cls`; eligible when nothing is missing."""
    results = [fn(s, trainee, cls) for _code, fn in REQUIREMENTS]
    facts = {}
    for r in results:
        facts.update(r.facts)
    return {
        "eligible": all(r.met for r in results),
        "met": [r.as_json() for r in results if r.met],
        "missing": [r.as_json() for r in results if not r.met],
        "facts": facts,
    }
