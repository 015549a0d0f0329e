"""Question banks, chapter quizzes and the final exam: the database side of rules.py.

Every answer is an append-only row and a ledger entry at the moment it arrives; a paper is recorded by its
seed, the ids of the bank's questions at the draw and their digest, so rules.paper rebuilds it exactly.
"""
import hashlib
import json
import math
import secrets

from flask import current_app
from sqlalchemy import exists, func, select

from models import (
    Attempt, AttemptAnswer, BankQuestion, BankRetirement, Chapter, ChapterProgress, Course, Enrollment, ExamSettings,
    SessionCheck, TrainingClass,
)
from tracker import ledger
from tracker.accounts.rules import RuleError
from tracker.assessment import rules
from tracker.clock import beijing
from tracker.db import valid_id
from tracker.errors import ApiError
from tracker.learning import checks
from tracker.learning.policy import policy_for
from tracker.learning.services import chapter_in_trainee_classes, class_online_time
from tracker.learning.sessions import server_now

rfc3339 = checks.rfc3339
MAX_PAGE_EVENTS = 500  # per attempt in the ledger: a page that flaps its focus must not flood it
EXAM_DEFAULTS = {"time_limit_minutes": 60, "pass_percent": 60.0, "max_attempts": 2, "question_count": 20}


def quiz_unlock_share():
    return current_app.config["TRACKER_QUIZ_UNLOCK_SHARE"]


def quiz_question_count():
    return current_app.config["TRACKER_QUIZ_QUESTIONS"]


def quiz_pass_share():
    return current_app.config["TRACKER_QUIZ_PASS_SHARE"]


def quiz_retake_defaults():
    """(attempts per chapter, minutes between attempts) where a class has not set its own."""
    return current_app.config["TRACKER_QUIZ_MAX_ATTEMPTS"], current_app.config["TRACKER_QUIZ_COOLDOWN_MINUTES"]


def _sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# The bank


def as_rule(q):
    key = json.loads(q.key)
    return rules.Question(q.id, q.kind, q.text, tuple(json.loads(q.options)), tuple(key) if isinstance(key, list) else key,
                          q.score, q.chapter_id, q.usage)


def _not_retired(at=None):
    cond = BankRetirement.question_id == BankQuestion.id
    if at is not None:
        cond = cond & (BankRetirement.retired_ts <= at)
    return ~exists().where(cond)


def active_questions(s, course_ids, chapter_id=None, paper=None):
    """The bank's current questions; `paper` (quiz | exam) keeps only those that paper may draw."""
    q = select(BankQuestion).where(BankQuestion.course_id.in_(list(course_ids)), _not_retired())
    if chapter_id is not None:
        q = q.where(BankQuestion.chapter_id == chapter_id)
    if paper is not None:
        q = q.where(BankQuestion.usage.in_(rules.DRAWS[paper]))
    return s.scalars(q.order_by(BankQuestion.chapter_id, BankQuestion.id)).all()


def quiz_questions(s, chapter):
    """What the chapter's quiz draws from: its questions marked 测验 or 通用."""
    return active_questions(s, [chapter.course_id], chapter.id, paper="quiz")


def is_retired(s, question):
    return s.get(BankRetirement, question.id) is not None


def _content(q):
    # "usage" since migration 0005: question_added entries from before it carry no usage and hash without it.
    return {"kind": q.kind, "text": q.text, "options": json.loads(q.options), "key": json.loads(q.key),
            "score": q.score, "chapter_id": q.chapter_id, "usage": q.usage}


def _chapter_of_course(s, course, chapter_id):
    if chapter_id in (None, "", 0):
        return None
    try:
        chapter_id = int(chapter_id)
    except (TypeError, ValueError):
        chapter_id = None
    chapter = s.get(Chapter, chapter_id) if valid_id(chapter_id) else None
    if chapter is None or chapter.course_id != course.id:
        raise RuleError("invalid_question", "章节不属于该课程", "chapter_id")
    return chapter.id


def _new_question(s, course, actor, fields, chapter_id, now, replaces=None, usage=None):
    kind, text, options, key, score = fields
    usage = usage or rules.default_usage(chapter_id)
    q = BankQuestion(course_id=course.id, chapter_id=chapter_id, usage=usage, kind=kind, text=text,
                     options=json.dumps(options, ensure_ascii=False), key=json.dumps(key, ensure_ascii=False),
                     score=score, created_ts=now, author_id=actor.id if actor else None,
                     replaces_id=replaces.id if replaces else None)
    s.add(q)
    s.flush()
    ledger.append(s, "bank.question_added", {
        "question_id": q.id, "course_id": course.id, "chapter_id": chapter_id, "kind": kind, "score": score,
        "usage": usage, "replaces": replaces.id if replaces else None,
        "content_sha256": _sha(json.dumps(_content(q), sort_keys=True, ensure_ascii=False)),
    }, actor_id=actor.id if actor else None)
    return q


def add_question(s, course, actor, kind, text, options, key, score, chapter_id=None, now=None, usage=None):
    """usage: 测验/考试/通用 or quiz/exam/both; None or blank: rules.default_usage."""
    fields = rules.validate_question(kind, text, options, key, score)
    chapter = _chapter_of_course(s, course, chapter_id)
    return _new_question(s, course, actor, fields, chapter, now or server_now(), usage=rules.validate_usage(usage, chapter))


def key_shown_to_trainees(s, question):
    """Whether a handed-in quiz showed this question's key (it, or an earlier version of it, was quiz-only)."""
    shown, chapters, q = set(), set(), question
    while q is not None:
        if q.usage == "quiz":
            shown.add(q.id)
            chapters.add(q.chapter_id)
        q = s.get(BankQuestion, q.replaces_id) if q.replaces_id else None
    if not shown:
        return False
    papers = s.scalars(select(Attempt.paper).where(Attempt.kind == "quiz", Attempt.chapter_id.in_(chapters),
                                                   Attempt.status != "open"))
    return any(qid in shown for paper in papers for qid, _ in json.loads(paper))


def revise_question(s, question, actor, kind, text, options, key, score, chapter_id=None, now=None, usage=None):
    """An edit is a new question replacing the old one: papers already drawn keep the version they showed.
    usage None keeps the question's usage (where the chapter still allows it)."""
    if is_retired(s, question):
        raise RuleError("question_retired", "该题已被删除或修改过，请编辑最新版本", status=409)
    course = s.get(Course, question.course_id)
    fields = rules.validate_question(kind, text, options, key, score)
    chapter = _chapter_of_course(s, course, chapter_id)
    usage = rules.validate_usage(question.usage if usage is None and (chapter or question.usage != "quiz") else usage,
                                 chapter)
    if (question.kind, question.text, json.loads(question.options), json.loads(question.key), question.score,
            question.chapter_id, question.usage) == (*fields, chapter, usage):
        return question
    if usage != "quiz" and key_shown_to_trainees(s, question):
        raise RuleError("key_revealed", "该题作为测验题已向学员公布过答案，不能再用于结业考试；请另出一道新题", "usage")
    now = now or server_now()
    new = _new_question(s, course, actor, fields, chapter, now, replaces=question, usage=usage)
    s.add(BankRetirement(question_id=question.id, retired_ts=now, actor_id=actor.id, replaced_by_id=new.id))
    ledger.append(s, "bank.question_retired", {"question_id": question.id, "replaced_by": new.id},
                  actor_id=actor.id)
    return new


def retire_question(s, question, actor, now=None):
    if is_retired(s, question):
        return
    s.add(BankRetirement(question_id=question.id, retired_ts=now or server_now(), actor_id=actor.id))
    ledger.append(s, "bank.question_retired", {"question_id": question.id, "replaced_by": None}, actor_id=actor.id)


def question_json(q, chapters=None):
    """A bank question with its key, for staff."""
    opts, key = json.loads(q.options), json.loads(q.key)
    return {"question_id": q.id, "course_id": q.course_id, "chapter_id": q.chapter_id,
            "chapter": (chapters or {}).get(q.chapter_id), "type": q.kind, "type_label": rules.KINDS[q.kind],
            "text": q.text, "options": opts, "key": key, "key_text": rules.key_text(q.kind, opts, key),
            "score": q.score, "usage": q.usage, "usage_label": rules.USAGES[q.usage], "replaces": q.replaces_id}


# ---------------------------------------------------------------------------------------------------------------------
# Unlocking


def chapter_lock(s, trainee, chapter):
    """(credited seconds, needed seconds, missing seconds) for the chapter's quiz."""
    p = s.get(ChapterProgress, (trainee.id, chapter.id))
    credited = min(p.credited_seconds, chapter.seconds) if p else 0.0
    share = quiz_unlock_share()
    return credited, share * chapter.seconds, rules.chapter_missing_seconds(credited, chapter.seconds, share)


def class_chapters(cls):
    return [ch for course in cls.courses for ch in course.chapters]


def exam_lock(s, trainee, cls):
    """(credited, required, share, missing) seconds for the class's final exam (see learning.services.class_online_time)."""
    credited, required = class_online_time(s, trainee, cls)
    share = policy_for(cls.policy_profile).exam_unlock_share
    return credited, required, share, rules.exam_missing_seconds(credited, required, share)


def exam_settings(s, cls):
    row = s.get(ExamSettings, cls.id)
    return row or ExamSettings(class_id=cls.id, **EXAM_DEFAULTS)


def quiz_retake_settings(s, cls):
    """(attempts per chapter, cool-down minutes) of the class's chapter quizzes: its own, else the platform's."""
    row = s.get(ExamSettings, cls.id)
    attempts, cooldown = quiz_retake_defaults()
    if row is not None and row.quiz_max_attempts is not None:
        attempts = row.quiz_max_attempts
    if row is not None and row.quiz_cooldown_minutes is not None:
        cooldown = row.quiz_cooldown_minutes
    return attempts, cooldown


def save_exam_settings(s, cls, actor, time_limit_minutes, pass_percent, max_attempts, question_count,
                       quiz_max_attempts=None, quiz_cooldown_minutes=None):
    """The exam's settings and, when given, the retake rules of the class's chapter quizzes (None: unchanged)."""
    def number(value, label, lo, hi, cast=int):
        try:
            v = cast(value)
        except (TypeError, ValueError):
            raise RuleError("invalid_settings", f"{label}须为数字", label) from None
        if not lo <= v <= hi:
            raise RuleError("invalid_settings", f"{label}须在{lo}到{hi}之间", label)
        return v

    values = {"time_limit_minutes": number(time_limit_minutes, "考试时长（分钟）", 5, 600),
              "pass_percent": number(pass_percent, "及格线（%）", 1, 100, float),
              "max_attempts": number(max_attempts, "考试次数", 1, 10),
              "question_count": number(question_count, "抽题数量", 0, 500)}
    if quiz_max_attempts not in (None, ""):
        values["quiz_max_attempts"] = number(quiz_max_attempts, "每章测验次数", 1, 20)
    if quiz_cooldown_minutes not in (None, ""):
        values["quiz_cooldown_minutes"] = number(quiz_cooldown_minutes, "测验间隔（分钟）", 0, 1440)
    row = s.get(ExamSettings, cls.id)
    if row is None:
        row = ExamSettings(class_id=cls.id)
        s.add(row)
    for k, v in values.items():
        setattr(row, k, v)
    row.updated_ts, row.updated_by = server_now(), actor.id
    ledger.append(s, "exam.settings", {"class_id": cls.id, **values}, actor_id=actor.id)
    return row


# ---------------------------------------------------------------------------------------------------------------------
# Attempts


def is_enrolled(s, trainee, class_id):
    return s.scalar(select(Enrollment.id).where(Enrollment.trainee_id == trainee.id, Enrollment.class_id == class_id)) \
        is not None


def _lock_enrollment(s, trainee_id, class_id):
    return s.scalar(select(Enrollment).where(Enrollment.trainee_id == trainee_id, Enrollment.class_id == class_id)
                    .with_for_update())


def _open_attempt(s, trainee, kind, class_id, chapter_id=None):
    q = select(Attempt).where(Attempt.trainee_id == trainee.id, Attempt.kind == kind, Attempt.class_id == class_id,
                              Attempt.status == "open")
    if chapter_id is not None:
        q = q.where(Attempt.chapter_id == chapter_id)
    return s.scalar(q.order_by(Attempt.id.desc()))


def _refuse_if_open(s, attempt, now):
    if attempt is not None and not expire_if_due(s, attempt, now):
        raise ApiError(409, "attempt_open", "您有一份未交卷的试卷，请继续作答", attempt_id=attempt.id)


def _draw(s, trainee, kind, class_id, chapter_id, bank, count, pass_share, now, deadline=None, photo_checks=False):
    seed = secrets.token_hex(16)
    candidates = [as_rule(q) for q in bank]
    drawn = rules.paper(seed, candidates, count)
    by_id = {q.id: q for q in candidates}
    max_score = round(sum(by_id[qid].score for qid, _ in drawn), 2)
    attempt = Attempt(
        trainee_id=trainee.id, kind=kind, class_id=class_id, chapter_id=chapter_id, seed=seed,
        candidates=json.dumps(sorted(by_id)), bank_sha256=rules.bank_digest(candidates), question_count=count,
        paper=json.dumps(drawn), started_ts=now, deadline_ts=deadline, status="open",
        pass_score=round(max_score * pass_share, 2), max_score=max_score, photo_checks=photo_checks,
    )
    s.add(attempt)
    s.flush()
    ledger.append(s, "attempt.started", {
        "attempt_id": attempt.id, "kind": kind, "class_id": class_id, "chapter_id": chapter_id, "seed": seed,
        "candidates": sorted(by_id), "bank_sha256": attempt.bank_sha256, "count": count, "paper": drawn,
        "max_score": max_score, "pass_score": attempt.pass_score,
        "deadline": rfc3339(deadline) if deadline else None,
    }, actor_id=trainee.id, subject_id=trainee.id)
    return attempt


def start_quiz(s, trainee, chapter_id, now=None):
    """Open a chapter quiz once the chapter's credited time reaches the unlock share (95%)."""
    now = now or server_now()
    chapter, class_id = chapter_in_trainee_classes(s, trainee, chapter_id)
    if chapter is None:
        raise ApiError(404, "not_found", "章节不存在，或您不在包含该章节的班期中")
    _lock_enrollment(s, trainee.id, class_id)
    credited, needed, missing = chapter_lock(s, trainee, chapter)
    if missing:
        raise ApiError(409, "quiz_locked", f"本章有效学时达到{quiz_unlock_share():.0%}后才能参加测验，还差{missing}秒",
                       missing_seconds=missing, credited_seconds=round(credited, 1), required_seconds=round(needed, 1))
    _refuse_if_open(s, _open_attempt(s, trainee, "quiz", class_id, chapter.id), now)
    retake = quiz_retake(s, trainee, chapter, s.get(TrainingClass, class_id), now)
    if not retake.allowed:
        raise retake_refusal(retake)
    bank = quiz_questions(s, chapter)
    if not bank:
        raise ApiError(409, "no_questions", "本章节暂无测验题目")
    return _draw(s, trainee, "quiz", class_id, chapter.id, bank, quiz_question_count(), quiz_pass_share(), now)


def quiz_retake(s, trainee, chapter, cls, now=None):
    """rules.quiz_retake for the trainee's attempts at the chapter's quiz, in whichever class they were taken (the
    same chapter in two classes is one quiz to learn from), under the class's retake settings, by the server's clock."""
    now = now or server_now()
    previous = s.execute(select(Attempt.started_ts, Attempt.submitted_ts).where(
        Attempt.trainee_id == trainee.id, Attempt.kind == "quiz", Attempt.chapter_id == chapter.id)).all()
    attempts, cooldown = quiz_retake_settings(s, cls)
    return rules.quiz_retake([tuple(r) for r in previous], now, attempts, cooldown * 60)


def retake_refusal(retake):
    """The 409 for a refused retake; the message gives the time in Beijing time, computed by the server."""
    if retake.code == "quiz_retake_limit":
        return ApiError(409, "quiz_retake_limit",
                        f"本章测验最多可参加{retake.max_attempts}次，您已参加{retake.used}次，不能再参加；如有疑问请联系培训机构",
                        max_attempts=retake.max_attempts, used_attempts=retake.used)
    minutes = math.ceil(retake.retry_after / 60)
    return ApiError(409, "quiz_cooldown",
                    f"两次测验之间须间隔一段时间，请于北京时间 {beijing(retake.next_ts, seconds=True)} 后再参加"
                    f"（约{minutes}分钟后）",
                    retry_after=retake.retry_after, retry_at=rfc3339(retake.next_ts),
                    max_attempts=retake.max_attempts, used_attempts=retake.used)


def start_exam(s, trainee, cls, now=None):
    """Open the final exam once credited time reaches the policy's share of the class's required online time."""
    now = now or server_now()
    if _lock_enrollment(s, trainee.id, cls.id) is None:
        raise ApiError(404, "not_found", "班期不存在或您不在该班期中")
    credited, required, share, missing = exam_lock(s, trainee, cls)
    if missing:
        raise ApiError(409, "exam_locked",
                       f"有效学时达到要求学时的{share:.0%}后才能参加结业考试，还差{missing}秒（约{missing / 60:.1f}分钟）",
                       missing_seconds=missing, credited_seconds=round(credited, 1), required_seconds=round(required, 1))
    _refuse_if_open(s, _open_attempt(s, trainee, "exam", cls.id), now)
    settings = exam_settings(s, cls)
    done = s.scalars(select(Attempt).where(Attempt.trainee_id == trainee.id, Attempt.kind == "exam",
                                           Attempt.class_id == cls.id)).all()
    if any(a.passed for a in done):
        raise ApiError(409, "exam_passed", "您已通过本班期的结业考试")
    if len(done) >= settings.max_attempts:
        raise ApiError(409, "exam_attempts_used", f"结业考试最多可参加{settings.max_attempts}次，您的次数已用完",
                       max_attempts=settings.max_attempts)
    bank = active_questions(s, [c.id for c in cls.courses], paper="exam")
    if not bank:
        raise ApiError(409, "no_questions", "本班期课程的题库中还没有考试题目")
    attempt = _draw(s, trainee, "exam", cls.id, None, bank, settings.question_count, settings.pass_percent / 100.0, now,
                    deadline=now + settings.time_limit_minutes * 60, photo_checks=bool(cls.photo_checks))
    if attempt.photo_checks:
        open_exam_check(s, attempt, now)  # the photo at the start of the exam
        attempt.next_photo_ts = checks.next_photo(now)
    return attempt


def attempt_for(s, attempt_id, trainee, lock=False):
    """The trainee's own attempt, or 404 (another trainee's attempt is not disclosed)."""
    q = select(Attempt).where(Attempt.id == attempt_id)
    attempt = s.scalar(q.with_for_update() if lock else q)
    if attempt is None or attempt.trainee_id != trainee.id:
        raise ApiError(404, "not_found", "试卷不存在")
    return attempt


def paper_questions(s, attempt):
    """[(rules.Question, option order)] of the attempt's paper, in paper order."""
    drawn = json.loads(attempt.paper)
    ids = [qid for qid, _ in drawn]
    rows = {q.id: as_rule(q) for q in s.scalars(select(BankQuestion).where(BankQuestion.id.in_(ids)))} if ids else {}
    return [(rows[qid], order) for qid, order in drawn]


def latest_answers(s, attempt):
    """question id -> the last answer given (canonical JSON value)."""
    out = {}
    for qid, answer in s.execute(select(AttemptAnswer.question_id, AttemptAnswer.answer)
                                 .where(AttemptAnswer.attempt_id == attempt.id).order_by(AttemptAnswer.id)):
        out[qid] = json.loads(answer)
    return out


def seconds_left(attempt, now):
    return None if attempt.deadline_ts is None else max(0, round(attempt.deadline_ts - now))


def expire_if_due(s, attempt, now):
    """An exam past its deadline is handed in as it stands. True when the attempt is (now) closed by time."""
    if attempt.status == "open" and attempt.deadline_ts is not None and now > attempt.deadline_ts:
        submit(s, attempt, now, auto=True)
    return attempt.status == "expired"


def expire_open_exams(s, now):
    """Hand in every exam whose time ran out (the sweeper calls this; nobody may be waiting for it)."""
    due = s.scalars(select(Attempt).where(Attempt.status == "open", Attempt.deadline_ts.is_not(None),
                                          Attempt.deadline_ts < now)).all()
    for attempt in due:
        expire_if_due(s, attempt, now)
    return len(due)


def _refuse_closed(attempt):
    if attempt.status == "expired":
        raise ApiError(409, "deadline_passed", "考试时间已到，试卷已自动交卷")
    if attempt.status != "open":
        raise ApiError(409, "attempt_closed", "试卷已交卷，不能再作答")


def record_answer(s, attempt, question_id, answer, now=None):
    """Record one answer at once (append-only row + ledger entry with the server's time).

    Call expire_if_due first and commit if it closed the attempt: the refusal must not undo the hand-in."""
    now = now or server_now()
    _refuse_closed(attempt)
    if isinstance(question_id, bool) or not isinstance(question_id, int):
        raise ApiError(400, "invalid_field", "question_id 须为整数", field="question_id")
    entry = next(((q, order) for q, order in paper_questions(s, attempt) if q.id == question_id), None)
    if entry is None:
        raise ApiError(400, "question_not_in_paper", "该题不在本试卷中", field="question_id")
    canonical = rules.normalize_answer(entry[0], entry[1], answer)
    row = AttemptAnswer(attempt_id=attempt.id, question_id=question_id, answer=json.dumps(canonical, ensure_ascii=False),
                        received_ts=now)
    s.add(row)
    s.flush()
    ledger.append(s, "attempt.answer", {"attempt_id": attempt.id, "answer_id": row.id, "question_id": question_id,
                                        "answer": canonical, "at": rfc3339(now)},
                  actor_id=attempt.trainee_id, subject_id=attempt.trainee_id)
    check = due_exam_checks(s, attempt, now)
    answered = s.scalar(select(func.count(func.distinct(AttemptAnswer.question_id)))
                        .where(AttemptAnswer.attempt_id == attempt.id))
    return {"attempt_id": attempt.id, "question_id": question_id, "answer": canonical, "recorded_at": rfc3339(now),
            "answered": answered, "seconds_left": seconds_left(attempt, now), "check": check}


def _exam_checks_summary(s, attempt):
    counts = dict(s.execute(select(SessionCheck.status, func.count()).where(SessionCheck.attempt_id == attempt.id)
                            .group_by(SessionCheck.status)).all())
    return {k: counts.get(k, 0) for k in ("passed", "failed", "missed", "pending")}


def submit(s, attempt, now=None, auto=False):
    """Score on the server and close the attempt; the result goes to the ledger."""
    now = now or server_now()
    if attempt.status != "open":
        raise ApiError(409, "attempt_closed", "试卷已交卷")
    if not auto and attempt.deadline_ts is not None and now > attempt.deadline_ts:
        auto = True  # handed in after the time: as it stood at the deadline (answers after it were refused)
    answers = latest_answers(s, attempt)
    questions = paper_questions(s, attempt)
    score, max_score, _results = rules.score_paper([q for q, _ in questions], [(q.id, o) for q, o in questions], answers)
    attempt.score, attempt.max_score = score, max_score
    attempt.passed = rules.passed(score, attempt.pass_score)
    attempt.status = "expired" if auto else "submitted"
    attempt.submitted_ts = now
    payload = {"attempt_id": attempt.id, "kind": attempt.kind, "class_id": attempt.class_id,
               "chapter_id": attempt.chapter_id, "score": score, "max_score": max_score, "pass_score": attempt.pass_score,
               "passed": attempt.passed, "answered": len(answers), "questions": len(questions),
               "auto": auto, "at": rfc3339(now)}
    if attempt.kind == "exam":
        payload.update(photo_checks=_exam_checks_summary(s, attempt), page_leaves=attempt.page_leaves)
    ledger.append(s, "attempt.submitted", payload, actor_id=None if auto else attempt.trainee_id,
                  subject_id=attempt.trainee_id)
    return attempt


def result_json(s, attempt):
    """The answer to submit: score, max_score and passed. For a quiz also each question's feedback
    (rules.quiz_feedback: right or wrong and the key only of quiz-only questions); an exam's keys are never shown."""
    out = {"attempt_id": attempt.id, "kind": attempt.kind, "status": attempt.status, "score": attempt.score,
           "max_score": attempt.max_score, "pass_score": attempt.pass_score, "passed": attempt.passed,
           "submitted_at": rfc3339(attempt.submitted_ts) if attempt.submitted_ts else None}
    if attempt.kind == "quiz":
        answers = latest_answers(s, attempt)
        out["results"] = [rules.quiz_feedback(q, order, answers.get(q.id), q.id in answers)
                          for q, order in paper_questions(s, attempt)]
        out["withheld"] = sum(1 for r in out["results"] if not r["revealed"])
    else:
        out["review"] = exam_review(s, attempt)
    return out


def exam_review(s, attempt):
    """What a reviewer should look at in an exam: photo checks that failed or were missed, times the page was left."""
    summary = _exam_checks_summary(s, attempt)
    return {"photo_checks": summary, "page_leaves": attempt.page_leaves,
            "flagged": bool(summary["failed"] or summary["missed"])}


def attempt_json(s, attempt, now=None):
    """The attempt as its trainee sees it. Before submission: questions without keys and the answers given."""
    now = now or server_now()
    questions = paper_questions(s, attempt)
    out = {"attempt_id": attempt.id, "kind": attempt.kind, "class_id": attempt.class_id,
           "chapter_id": attempt.chapter_id, "status": attempt.status,
           "questions": [rules.public_question(q, order) for q, order in questions],
           "answers": {str(k): v for k, v in latest_answers(s, attempt).items()},
           "started_at": rfc3339(attempt.started_ts),
           "deadline": rfc3339(attempt.deadline_ts) if attempt.deadline_ts else None,
           "seconds_left": seconds_left(attempt, now), "max_score": attempt.max_score,
           "pass_score": attempt.pass_score, "check": pending_exam_check(s, attempt, now)}
    if attempt.status != "open":
        out["result"] = result_json(s, attempt)
    return out


def inspect_paper(s, attempt):
    """For an inspector: the paper rebuilt from the seed and the bank as it was, checked against what was recorded."""
    candidates = [as_rule(q) for q in s.scalars(select(BankQuestion).where(
        BankQuestion.id.in_(json.loads(attempt.candidates))).order_by(BankQuestion.id))]
    rebuilt = rules.paper(attempt.seed, candidates, attempt.question_count)
    recorded = [tuple(x) for x in json.loads(attempt.paper)]
    by_id = {q.id: q for q in candidates}
    answers = latest_answers(s, attempt)
    items = []
    for qid, order in rebuilt:
        q = by_id[qid]
        given = answers.get(qid)
        items.append({**rules.public_question(q, order), "key": rules.shown_key(q, order), "answer": given,
                      "correct": rules.is_correct(q, order, given) if qid in answers else False})
    return {"attempt_id": attempt.id, "trainee_id": attempt.trainee_id, "kind": attempt.kind, "seed": attempt.seed,
            "bank_sha256": attempt.bank_sha256, "bank_matches": rules.bank_digest(candidates) == attempt.bank_sha256,
            "paper_matches": [(qid, list(o)) for qid, o in rebuilt] == [(qid, list(o)) for qid, o in recorded],
            "questions": items, "score": attempt.score, "max_score": attempt.max_score, "passed": attempt.passed,
            "status": attempt.status}


# ---------------------------------------------------------------------------------------------------------------------
# Photo checks and leaving the page during the exam


def open_exam_check(s, attempt, now):
    """A photo check of the exam (kind photo_exam): no learning session, so not checks.open_check; the same
    row and the same "check.asked" ledger entry, linked to the attempt. The proctoring feature judges it."""
    check = SessionCheck(session_id=None, attempt_id=attempt.id, trainee_id=attempt.trainee_id, kind=checks.PHOTO_EXAM,
                         asked_ts=now, deadline_ts=now + current_app.config["TRACKER_PHOTO_CHECK_DEADLINE"],
                         status="pending")
    s.add(check)
    s.flush()
    attempt.pending_check_id = check.id
    ledger.append(s, "check.asked", {"check_id": check.id, "session_id": None, "attempt_id": attempt.id,
                                     "kind": checks.PHOTO_EXAM, "deadline": rfc3339(check.deadline_ts)},
                  subject_id=attempt.trainee_id)
    return check


def pending_exam_check(s, attempt, now):
    check = s.get(SessionCheck, attempt.pending_check_id) if attempt.pending_check_id else None
    if check is None or check.status != "pending" or now > check.deadline_ts:
        return None
    return checks.check_json(check, now)


def due_exam_checks(s, attempt, now):
    """On each answer or page event: expire an overdue exam photo, then ask the next one when it is due."""
    if not attempt.photo_checks or attempt.status != "open":
        return None
    check = s.get(SessionCheck, attempt.pending_check_id) if attempt.pending_check_id else None
    if check is not None and check.status == "pending" and now > check.deadline_ts:
        checks.resolve_check(s, None, check, False, now)
    if check is not None and check.status != "pending":
        attempt.pending_check_id = None
        attempt.next_photo_ts = now + checks.RETRY_AFTER_FAILURE if check.status != "passed" else checks.next_photo(now)
        check = None
    if check is None and attempt.next_photo_ts is not None and now >= attempt.next_photo_ts:
        check = open_exam_check(s, attempt, now)
        attempt.next_photo_ts = None
    return checks.check_json(check, now) if check is not None else None


PAGE_EVENTS = {"hidden": "页面切到后台", "visible": "回到页面", "blur": "窗口失去焦点", "focus": "窗口获得焦点",
               "ping": None}


def page_event(s, attempt, event, now=None):
    """The exam page reports leaving (hidden, blur) and coming back; a ping only asks for due checks."""
    now = now or server_now()
    if event not in PAGE_EVENTS:
        raise ApiError(400, "invalid_field", "event 须为 hidden、visible、blur、focus 或 ping", field="event")
    _refuse_closed(attempt)
    if event in ("hidden", "blur"):
        attempt.page_leaves += 1
    if event != "ping" and attempt.page_leaves <= MAX_PAGE_EVENTS:
        ledger.append(s, "attempt.page_event", {"attempt_id": attempt.id, "event": event, "at": rfc3339(now),
                                                "leaves": attempt.page_leaves},
                      actor_id=attempt.trainee_id, subject_id=attempt.trainee_id)
    return {"attempt_id": attempt.id, "event": event, "page_leaves": attempt.page_leaves,
            "seconds_left": seconds_left(attempt, now), "check": due_exam_checks(s, attempt, now)}


# ---------------------------------------------------------------------------------------------------------------------
# The trainee's record


def trainee_results(s, trainee):
    """Every quiz and exam attempt of the trainee, for the learning record (学习记录)."""
    rows = s.execute(select(Attempt, Chapter.title, TrainingClass.name).outerjoin(Chapter, Chapter.id == Attempt.chapter_id)
                     .join(TrainingClass, TrainingClass.id == Attempt.class_id)
                     .where(Attempt.trainee_id == trainee.id).order_by(Attempt.id)).all()
    out = []
    for a, chapter_title, class_name in rows:
        item = {"attempt_id": a.id, "kind": a.kind, "class_id": a.class_id, "class": class_name,
                "chapter_id": a.chapter_id, "chapter": chapter_title, "status": a.status,
                "started": rfc3339(a.started_ts), "submitted": rfc3339(a.submitted_ts) if a.submitted_ts else None,
                "score": a.score, "max_score": a.max_score, "pass_score": a.pass_score, "passed": a.passed}
        if a.kind == "exam":
            item["review"] = exam_review(s, a)
        out.append(item)
    return out


def quiz_passed(s, trainee, chapter_id):
    return s.scalar(select(Attempt.id).where(Attempt.trainee_id == trainee.id, Attempt.kind == "quiz",
                                             Attempt.chapter_id == chapter_id, Attempt.passed.is_(True)).limit(1)) is not None


def exam_passed(s, trainee, class_id):
    return s.scalar(select(Attempt.id).where(Attempt.trainee_id == trainee.id, Attempt.kind == "exam",
                                             Attempt.class_id == class_id, Attempt.passed.is_(True)).limit(1)) is not None
