"""Quizzes and the final exam through the API of ../shared/API.md: unlocking at 95%, papers without keys,
answers recorded at once, scoring on the server, the seed that rebuilds a paper, deadlines and who may see what.

Credited time is given by writing ChapterProgress directly: crediting itself is tested in test_crediting.py and
the session tests; here only the unlock rule that reads it matters.
"""
import json
import time

import pytest
from sqlalchemy import func, select

from models import (
    Attempt, AttemptAnswer, BankQuestion, ChapterProgress, Institution, LedgerEntry, SessionCheck, TrainingClass,
)
from tracker.accounts.services import create_user
from tracker.assessment import rules, services
from tracker.extensions import db

PASSWORD = "Demo1234"
STAFF = "13900000001"
REGULATOR = "13900000002"


def trainee(demo, n=0):
    return [a for a in demo["accounts"] if a["role"] == "trainee"][n]


def chapters(demo):
    return demo["classes"][0]["chapters"]  # 150 s and 180 s


def class_id(demo):
    return demo["classes"][0]["class_id"]


def give(app, trainee_id, chapter_id, seconds):
    """Credited seconds for a chapter, as the crediting rule would have left them."""
    with app.app_context(), db.transaction() as s:
        row = s.get(ChapterProgress, (trainee_id, chapter_id))
        if row is None:
            s.add(ChapterProgress(trainee_id=trainee_id, chapter_id=chapter_id, credited_seconds=seconds))
        else:
            row.credited_seconds = seconds


def all_keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from all_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_keys(v)


def assert_no_key(body, texts=True):
    """Nothing in a pre-submit answer gives the key away: no key field, no results, and (before the trainee has
    typed them) no accepted fill-in texts."""
    names = set(all_keys(body))
    assert not names & {"key", "key_text", "results", "correct", "result"}, names
    if not texts:
        return
    text = json.dumps(body, ensure_ascii=False)
    for accepted in ("遮栏", "围栏", "有电"):
        assert accepted not in text


def bank(app, ids):
    with app.app_context(), db.transaction() as s:
        return {q.id: services.as_rule(q) for q in s.scalars(select(BankQuestion).where(BankQuestion.id.in_(ids)))}


def right_answer(question, body_question):
    """The right answer in the paper's terms (shown option indices), worked out from the bank."""
    shown = body_question["options"]
    if question.kind == "single":
        return shown.index(question.options[question.key])
    if question.kind == "multiple":
        return sorted(shown.index(question.options[i]) for i in question.key)
    if question.kind == "truefalse":
        return question.key
    return question.key[0]


def ledger(app, kind):
    with app.app_context(), db.transaction() as s:
        return [json.loads(e.payload) for e in s.scalars(select(LedgerEntry).where(LedgerEntry.kind == kind)
                                                         .order_by(LedgerEntry.seq))]


@pytest.fixture
def other_staff(app, demo):
    with app.app_context(), db.transaction() as s:
        inst = Institution(name="包头市另一培训学校", region_code="150203")
        s.add(inst)
        s.flush()
        create_user(s, role="staff", name="赵老师", password=PASSWORD, phone="13700000001", institution_id=inst.id)
    return "13700000001"


# ---------------------------------------------------------------------------------------------------------------------
# The chapter quiz


def test_quiz_unlocks_at_95_percent_and_not_a_second_before(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], 142.4)  # 95% of 150 s is 142.5 s
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "quiz_locked" and err["missing_seconds"] == 1 and "1秒" in err["message"]

    give(app, t["user_id"], ch["chapter_id"], 142.5)
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) >= {"attempt_id", "questions"}
    assert body["questions"] and all(set(q) >= {"question_id", "type", "text", "options"} for q in body["questions"])
    assert_no_key(body)


def test_a_whole_quiz_answered_right_scores_full_marks_and_every_answer_is_in_the_ledger(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], 150)
    body = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").get_json()
    aid = body["attempt_id"]
    questions = bank(app, [q["question_id"] for q in body["questions"]])
    for q in body["questions"]:
        r = me.post(f"/attempts/{aid}/answers", {"question_id": q["question_id"], "answer": "随便" if q["type"] == "fill" else
                    (False if q["type"] == "truefalse" else ([0, 1] if q["type"] == "multiple" else 0))})
        assert r.status_code == 200
        r = me.post(f"/attempts/{aid}/answers", {"question_id": q["question_id"],
                                                  "answer": right_answer(questions[q["question_id"]], q)})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["recorded_at"].endswith("Z")
        assert_no_key(r.get_json(), texts=False)  # it echoes the trainee's own answer
    resumed = me.get(f"/attempts/{aid}")
    assert resumed.status_code == 200 and len(resumed.get_json()["answers"]) == len(body["questions"])
    assert_no_key(resumed.get_json(), texts=False)

    r = me.post(f"/attempts/{aid}/submit")
    assert r.status_code == 200
    result = r.get_json()
    assert result["score"] == result["max_score"] == sum(q.score for q in questions.values())
    assert result["passed"] is True
    # after submission right/wrong and the key of the quiz-only questions; the others may be in the exam
    assert all(x["correct"] for x in result["results"] if x["revealed"])
    assert all(set(x) == {"question_id", "answered", "usage", "revealed"} for x in result["results"] if not x["revealed"])

    answers = [e for e in ledger(app, "attempt.answer") if e["attempt_id"] == aid]
    assert len(answers) == 2 * len(body["questions"])  # every answer, not just the last
    started = [e for e in ledger(app, "attempt.started") if e["attempt_id"] == aid][0]
    assert started["seed"] and started["paper"] == [[q["question_id"], started["paper"][i][1]]
                                                    for i, q in enumerate(body["questions"])]
    submitted = [e for e in ledger(app, "attempt.submitted") if e["attempt_id"] == aid][0]
    assert submitted["score"] == result["score"] and submitted["passed"] is True

    rec = me.get(f"/trainees/{t['user_id']}/record").get_json()
    assert rec["quizzes"][0]["attempt_id"] == aid and rec["quizzes"][0]["passed"] is True


def test_the_paper_is_rebuilt_from_its_seed_even_after_the_bank_changed(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[1]
    give(app, t["user_id"], ch["chapter_id"], 180)
    body = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").get_json()
    aid = body["attempt_id"]
    shown = [(q["question_id"], q["options"]) for q in body["questions"]]

    staff = api(STAFF)
    # staff edit and delete questions after the draw: the attempt keeps the versions it showed
    with app.app_context(), db.transaction() as s:
        attempt = s.get(Attempt, aid)
        first = s.get(BankQuestion, json.loads(attempt.paper)[0][0])
    r = staff.post(f"/questions/{first.id}/retire")
    assert r.status_code == 200

    paper = staff.get(f"/attempts/{aid}/paper").get_json()
    assert paper["paper_matches"] is True and paper["bank_matches"] is True
    assert [(q["question_id"], q["options"]) for q in paper["questions"]] == shown
    assert all("key" in q for q in paper["questions"])

    with app.app_context(), db.transaction() as s:
        attempt = s.get(Attempt, aid)
        candidates = [services.as_rule(q) for q in s.scalars(select(BankQuestion).where(
            BankQuestion.id.in_(json.loads(attempt.candidates))))]
        assert [list(x) for x in rules.paper(attempt.seed, candidates, attempt.question_count)] == \
            [[qid, order] for qid, order in json.loads(attempt.paper)]


def test_quiz_denials(app, demo, api, other_staff):
    t, other = trainee(demo, 0), trainee(demo, 1)
    me, them = api(t["username"]), api(other["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], 150)
    body = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").get_json()
    aid, qid = body["attempt_id"], body["questions"][0]["question_id"]

    # a second attempt while one is open points at it
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409 and r.get_json()["error"]["attempt_id"] == aid
    # another trainee's attempt does not exist for them
    for r in (them.get(f"/attempts/{aid}"), them.post(f"/attempts/{aid}/answers", {"question_id": qid, "answer": 0}),
              them.post(f"/attempts/{aid}/submit")):
        assert r.status_code == 404
    # nor for another institution's staff
    assert api(other_staff).get(f"/attempts/{aid}").status_code == 404
    assert api(other_staff).get(f"/attempts/{aid}/paper").status_code == 404
    # the paper with keys is not for trainees
    assert me.get(f"/attempts/{aid}/paper").status_code == 403
    # bad answers
    assert me.post(f"/attempts/{aid}/answers", {"question_id": 999999, "answer": 0}).status_code == 400
    assert me.post(f"/attempts/{aid}/answers", {"question_id": qid}).status_code == 400
    assert me.post(f"/attempts/{aid}/answers", {"question_id": qid, "answer": {"x": 1}}).status_code == 400
    # a chapter of a class the trainee is not in
    assert me.post("/chapters/999999/quiz/attempts").status_code == 404

    assert me.post(f"/attempts/{aid}/submit").status_code == 200
    r = me.post(f"/attempts/{aid}/answers", {"question_id": qid, "answer": 0})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "attempt_closed"
    assert me.post(f"/attempts/{aid}/submit").status_code == 409
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AttemptAnswer).where(AttemptAnswer.attempt_id == aid)) == 0


# ---------------------------------------------------------------------------------------------------------------------
# The final exam


def test_exam_unlocks_at_95_percent_of_the_class_and_starts_with_a_photo_check(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch1, ch2 = chapters(demo)
    give(app, t["user_id"], ch1["chapter_id"], 400)  # more than the chapter's 150 s counts as 150 s
    give(app, t["user_id"], ch2["chapter_id"], 163.4)  # 313.4 s of the 313.5 s needed (95% of 330 s)
    r = me.post(f"/classes/{class_id(demo)}/exam/attempts")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "exam_locked" and err["missing_seconds"] == 1 and err["required_seconds"] == 330
    status = me.get(f"/classes/{class_id(demo)}/exam").get_json()
    assert status["unlocked"] is False and status["missing_seconds"] == 1

    give(app, t["user_id"], ch2["chapter_id"], 163.5)
    r = me.post(f"/classes/{class_id(demo)}/exam/attempts")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) >= {"attempt_id", "questions", "deadline", "check"}
    assert body["deadline"].endswith("Z") and 0 < body["seconds_left"] <= 30 * 60
    assert body["check"]["kind"] == "photo_exam"
    assert len(body["questions"]) == 10  # the demo's exam draws 10 of the course's 11 questions
    assert_no_key(body)
    with app.app_context(), db.transaction() as s:
        check = s.get(SessionCheck, body["check"]["check_id"])
        assert check.attempt_id == body["attempt_id"] and check.session_id is None and check.status == "pending"
    asked = [e for e in ledger(app, "check.asked") if e.get("attempt_id") == body["attempt_id"]]
    assert asked and asked[0]["kind"] == "photo_exam"


def test_exam_deadline_refuses_late_answers_and_hands_the_paper_in(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    body = me.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()
    aid, q = body["attempt_id"], body["questions"][0]
    assert me.post(f"/attempts/{aid}/answers", {"question_id": q["question_id"], "answer": "对" if q["type"] == "truefalse"
                                                else ("x" if q["type"] == "fill" else [0] if q["type"] == "multiple" else 0)}
                   ).status_code == 200
    with app.app_context(), db.transaction() as s:
        s.get(Attempt, aid).deadline_ts = services.server_now() - 1  # the time limit has run out
    r = me.post(f"/attempts/{aid}/answers", {"question_id": q["question_id"], "answer": 1 if q["type"] != "fill" else "y"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "deadline_passed"
    got = me.get(f"/attempts/{aid}").get_json()
    assert got["status"] == "expired" and got["result"]["score"] is not None
    submitted = [e for e in ledger(app, "attempt.submitted") if e["attempt_id"] == aid]
    assert len(submitted) == 1 and submitted[0]["auto"] is True and submitted[0]["answered"] == 1
    assert me.post(f"/attempts/{aid}/submit").status_code == 409


def test_exam_attempts_are_limited_and_a_pass_ends_them(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    staff = api(STAFF)
    assert staff.call("PUT", f"/classes/{class_id(demo)}/exam/settings", {
        "time_limit_minutes": 20, "pass_percent": 60, "max_attempts": 2, "question_count": 0}).status_code == 200
    first = me.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()
    assert len(first["questions"]) == 11  # 0: the whole bank
    assert me.post(f"/attempts/{first['attempt_id']}/submit").get_json()["passed"] is False  # nothing answered
    second = me.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()
    questions = bank(app, [q["question_id"] for q in second["questions"]])
    for q in second["questions"]:
        me.post(f"/attempts/{second['attempt_id']}/answers",
                {"question_id": q["question_id"], "answer": right_answer(questions[q["question_id"]], q)})
    result = me.post(f"/attempts/{second['attempt_id']}/submit").get_json()
    assert result["passed"] is True and "results" not in result  # exam keys stay unseen
    r = me.post(f"/classes/{class_id(demo)}/exam/attempts")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "exam_passed"

    other = trainee(demo, 1)
    them = api(other["username"])
    for ch in chapters(demo):
        give(app, other["user_id"], ch["chapter_id"], ch["seconds"])
    for _ in range(2):
        aid = them.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()["attempt_id"]
        them.post(f"/attempts/{aid}/submit")
    r = them.post(f"/classes/{class_id(demo)}/exam/attempts")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "exam_attempts_used"
    results = them.get(f"/trainees/{other['user_id']}/record").get_json()["quizzes"]
    assert [x["passed"] for x in results] == [False, False]


def test_leaving_the_exam_page_and_later_photo_checks_are_recorded(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    body = me.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()
    aid, first_check = body["attempt_id"], body["check"]["check_id"]
    r = me.post(f"/attempts/{aid}/events", {"event": "hidden"})
    assert r.status_code == 200 and r.get_json()["page_leaves"] == 1
    assert me.post(f"/attempts/{aid}/events", {"event": "visible"}).status_code == 200
    assert me.post(f"/attempts/{aid}/events", {"event": "copy"}).status_code == 400
    assert [e["event"] for e in ledger(app, "attempt.page_event")] == ["hidden", "visible"]

    now = time.time()  # the server's clock (not scaled in these tests)
    with app.app_context(), db.transaction() as s:
        s.get(SessionCheck, first_check).deadline_ts = now - 1  # the start photo was not sent in time
    assert me.post(f"/attempts/{aid}/events", {"event": "ping"}).get_json()["check"] is None
    with app.app_context(), db.transaction() as s:
        assert s.get(SessionCheck, first_check).status == "missed"
        s.get(Attempt, aid).next_photo_ts = now - 1  # a random check falls due
    again = me.post(f"/attempts/{aid}/events", {"event": "ping"}).get_json()["check"]
    assert again and again["kind"] == "photo_exam" and again["check_id"] != first_check
    result = me.post(f"/attempts/{aid}/submit").get_json()
    assert result["review"] == {"photo_checks": {"passed": 0, "failed": 0, "missed": 1, "pending": 1},
                                "page_leaves": 1, "flagged": True}


def test_exam_denials(app, demo, api, other_staff):
    t = trainee(demo)
    me = api(t["username"])
    assert me.post("/classes/999999/exam/attempts").status_code == 404
    with app.app_context(), db.transaction() as s:
        cls = TrainingClass(institution_id=s.scalar(select(Institution.id)), name="另一个班", total_hours=10, online_hours=4)
        s.add(cls)
        s.flush()
        lone = cls.id
    assert me.post(f"/classes/{lone}/exam/attempts").status_code == 404  # not on its roster
    assert api(STAFF).post(f"/classes/{class_id(demo)}/exam/attempts").status_code == 403
    settings = {"time_limit_minutes": 20, "pass_percent": 60, "max_attempts": 2, "question_count": 5}
    assert api(REGULATOR).get(f"/classes/{class_id(demo)}/exam/settings").status_code == 200
    assert api(REGULATOR).call("PUT", f"/classes/{class_id(demo)}/exam/settings", settings).status_code == 403
    assert api(other_staff).call("PUT", f"/classes/{class_id(demo)}/exam/settings", settings).status_code == 404
    bad = dict(settings, pass_percent=120)
    assert api(STAFF).call("PUT", f"/classes/{class_id(demo)}/exam/settings", bad).status_code == 400


# ---------------------------------------------------------------------------------------------------------------------
# The bank over the API


def test_bank_api_is_for_the_institutions_staff(app, demo, api, other_staff):
    course_id = _course_id(app)
    staff = api(STAFF)
    r = staff.post(f"/courses/{course_id}/questions", {"type": "multiple", "text": "新题", "options": ["甲", "乙", "丙"],
                                                      "key": "AB", "score": 4, "chapter_id": chapters(demo)[0]["chapter_id"]})
    assert r.status_code == 201 and r.get_json()["key"] == [0, 1]
    r = staff.post(f"/courses/{course_id}/questions", {"type": "single", "text": "坏题", "options": ["甲"], "key": "A", "score": 1})
    assert r.status_code == 400
    assert any(q["text"] == "新题" for q in staff.get(f"/courses/{course_id}/questions").get_json()["questions"])
    assert api(other_staff).get(f"/courses/{course_id}/questions").status_code == 404
    assert api(trainee(demo)["username"]).get(f"/courses/{course_id}/questions").status_code == 403


def _course_id(app):
    from models import Course

    with app.app_context(), db.transaction() as s:
        return s.scalar(select(Course.id))


def test_openapi_documents_the_contract(client, demo):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for p in ("/chapters/{chapter_id}/quiz/attempts", "/classes/{class_id}/exam/attempts",
              "/attempts/{attempt_id}/answers", "/attempts/{attempt_id}/submit"):
        assert "post" in paths[p]


def test_the_learning_record_page_and_pdf_show_each_attempt_with_its_result(app, demo, api):
    from tests.test_access import web_login

    t = trainee(demo)
    me = api(t["username"])
    first, second = chapters(demo)
    give(app, t["user_id"], first["chapter_id"], 150)
    give(app, t["user_id"], second["chapter_id"], 180)
    body = me.post(f"/chapters/{first['chapter_id']}/quiz/attempts").get_json()
    questions = bank(app, [q["question_id"] for q in body["questions"]])
    for q in body["questions"]:
        me.post(f"/attempts/{body['attempt_id']}/answers",
                {"question_id": q["question_id"], "answer": right_answer(questions[q["question_id"]], q)})
    assert me.post(f"/attempts/{body['attempt_id']}/submit").get_json()["passed"] is True
    blank = me.post(f"/chapters/{second['chapter_id']}/quiz/attempts").get_json()["attempt_id"]
    assert me.post(f"/attempts/{blank}/submit").get_json()["passed"] is False

    rec = me.get(f"/trainees/{t['user_id']}/record").get_json()
    assert [(a["kind_label"], a["status_label"], a["passed"]) for a in rec["quizzes"]] == [
        ("章节测验", "已交卷", True), ("章节测验", "已交卷", False)]
    web = web_login(app, t["username"])
    page = web.get("/learn/record").get_data(as_text=True)
    rows = page[page.index('id="attempts"'):page.index('id="certificates"')]
    assert rows.index(f'data-attempt-id="{blank}"') < rows.index(f'data-attempt-id="{body["attempt_id"]}"')  # newest first
    assert rows.count("合格") == 2 and rows.count("不合格") == 1 and second["title"] in rows
    pdf = web.get(f"/trainees/{t['user_id']}/record.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
