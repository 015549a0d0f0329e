"""Issue 11 through the API and the pages: which papers draw which questions, what a handed-in quiz shows, the
refused retakes (limit and cool-down, 409 with a code and a Chinese sentence in Beijing time), the class's retake
settings, the bank's usage field and the refusal to move a question whose key was shown into the exam.

The server's clock is services.server_now, replaced here by a clock the test moves; credited time is written
directly (see test_assessment_api.py).
"""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from models import BankQuestion, ExamSettings
from tests.test_access import web_login
from tests.test_assessment_api import STAFF, _course_id, bank, chapters, class_id, give, right_answer, trainee
from tracker.assessment import services
from tracker.assessment.requirements import quizzes_passed
from tracker.extensions import db


@pytest.fixture
def clock(monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(services, "server_now", lambda: now[0])
    return now


def usages(app):
    with app.app_context(), db.transaction() as s:
        return {q.id: (q.usage, q.chapter_id) for q in services.active_questions(s, [_course_id(app)])}


def take(me, chapter_id, app=None, right=False):
    """Start, answer (rightly when asked) and hand in a chapter quiz; the submit answer."""
    r = me.post(f"/chapters/{chapter_id}/quiz/attempts")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    if right:
        questions = bank(app, [q["question_id"] for q in body["questions"]])
        for q in body["questions"]:
            me.post(f"/attempts/{body['attempt_id']}/answers",
                    {"question_id": q["question_id"], "answer": right_answer(questions[q["question_id"]], q)})
    return me.post(f"/attempts/{body['attempt_id']}/submit").get_json()


def beijing(ts):
    return datetime.fromtimestamp(ts, timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------------------------------------------------
# Papers


def test_quizzes_draw_quiz_and_both_questions_the_exam_exam_and_both(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    marks = usages(app)
    assert {u for u, _ in marks.values()} == {"quiz", "exam", "both"}  # the demo has all three
    ch = chapters(demo)[0]
    quiz = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").get_json()
    assert {q["question_id"] for q in quiz["questions"]} == \
        {qid for qid, (u, c) in marks.items() if c == ch["chapter_id"] and u in ("quiz", "both")}
    assert api(STAFF).call("PUT", f"/classes/{class_id(demo)}/exam/settings", {
        "time_limit_minutes": 20, "pass_percent": 60, "max_attempts": 2, "question_count": 0}).status_code == 200
    exam = me.post(f"/classes/{class_id(demo)}/exam/attempts").get_json()
    assert {q["question_id"] for q in exam["questions"]} == {qid for qid, (u, _) in marks.items() if u in ("exam", "both")}


def test_a_handed_in_quiz_shows_right_wrong_and_keys_of_quiz_only_questions_alone(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    result = take(me, ch["chapter_id"], app, right=True)
    marks = usages(app)
    assert result["passed"] is True and result["score"] == result["max_score"]
    shown = [r for r in result["results"] if r["revealed"]]
    withheld = [r for r in result["results"] if not r["revealed"]]
    assert shown and withheld and result["withheld"] == len(withheld)
    assert all(marks[r["question_id"]][0] == "quiz" and r["correct"] is True and "key" in r for r in shown)
    assert all(marks[r["question_id"]][0] == "both" and r["answered"] is True for r in withheld)
    assert all(set(r) == {"question_id", "answered", "usage", "revealed"} for r in withheld)
    # read back later: the same, nothing more
    again = me.get(f"/attempts/{result['attempt_id']}").get_json()["result"]
    assert again["results"] == result["results"]
    # an inspector still sees every key
    paper = api(STAFF).get(f"/attempts/{result['attempt_id']}/paper").get_json()
    assert all("key" in q and q["correct"] is True for q in paper["questions"])


# ---------------------------------------------------------------------------------------------------------------------
# Retakes


def test_a_second_quiz_within_the_cool_down_is_refused_with_the_time_in_beijing_time(app, demo, api, clock):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    take(me, ch["chapter_id"])
    handed_in = clock[0]
    clock[0] += 599.5
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "quiz_cooldown" and err["retry_after"] == 1
    assert err["retry_at"].endswith("Z") and err["used_attempts"] == 1 and err["max_attempts"] == 3
    assert f"北京时间 {beijing(handed_in + 600)}" in err["message"]
    status = me.get(f"/chapters/{ch['chapter_id']}/quiz").get_json()
    assert status["retake"] == {"code": "quiz_cooldown", "message": err["message"], "retry_after": 1,
                                "retry_at": err["retry_at"]}
    assert (status["used_attempts"], status["max_attempts"], status["cooldown_minutes"]) == (1, 3, 10)

    page = web_login(app, t["username"]).get(f"/learn/chapters/{ch['chapter_id']}/quiz").get_data(as_text=True)
    assert 'id="refused"' in page and beijing(handed_in + 600) in page and 'id="start"' not in page
    assert "quiz_cooldown" not in page  # no raw codes on the page

    clock[0] = handed_in + 600  # exactly when the server said
    assert me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").status_code == 201


def test_an_open_quiz_is_resumed_not_refused_by_the_cool_down(app, demo, api, clock):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    aid = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").get_json()["attempt_id"]
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "attempt_open"
    assert r.get_json()["error"]["attempt_id"] == aid


def test_the_retake_limit_ends_the_attempts_and_a_pass_stays_a_pass(app, demo, api, clock):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    assert take(me, ch["chapter_id"], app, right=True)["passed"] is True
    for _ in range(2):
        clock[0] += 600
        assert take(me, ch["chapter_id"])["passed"] is False  # practice after passing, handed in blank
    clock[0] += 10 ** 6
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "quiz_retake_limit" and err["max_attempts"] == 3 and err["used_attempts"] == 3
    assert "最多可参加3次" in err["message"] and "retry_after" not in err
    status = me.get(f"/chapters/{ch['chapter_id']}/quiz").get_json()
    assert status["passed"] is True and status["retake"]["code"] == "quiz_retake_limit"
    page = web_login(app, t["username"]).get(f"/learn/chapters/{ch['chapter_id']}/quiz").get_data(as_text=True)
    assert "您已通过本章测验" in page and "最多可参加3次" in page and 'id="start"' not in page


def test_a_class_sets_its_own_retakes_and_the_defaults_come_from_config(app, demo, api, clock):
    t = trainee(demo)
    me, staff = api(t["username"]), api(STAFF)
    cid = class_id(demo)
    got = staff.get(f"/classes/{cid}/exam/settings").get_json()
    assert (got["quiz_max_attempts"], got["quiz_cooldown_minutes"]) == (3, 10)
    base = {"time_limit_minutes": 20, "pass_percent": 60, "max_attempts": 2, "question_count": 5}
    for bad in ({"quiz_max_attempts": 0}, {"quiz_cooldown_minutes": -1}, {"quiz_max_attempts": "三"}):
        r = staff.call("PUT", f"/classes/{cid}/exam/settings", {**base, **bad})
        assert r.status_code == 400, bad
    r = staff.call("PUT", f"/classes/{cid}/exam/settings", {**base, "quiz_max_attempts": 2, "quiz_cooldown_minutes": 0})
    assert r.status_code == 200 and (r.get_json()["quiz_max_attempts"], r.get_json()["quiz_cooldown_minutes"]) == (2, 0)
    # a PUT without them (the contract's four fields) keeps them
    r = staff.call("PUT", f"/classes/{cid}/exam/settings", base)
    assert (r.get_json()["quiz_max_attempts"], r.get_json()["quiz_cooldown_minutes"]) == (2, 0)

    ch = chapters(demo)[1]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    take(me, ch["chapter_id"])
    take(me, ch["chapter_id"])  # no cool-down in this class
    r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "quiz_retake_limit"

    app.config["TRACKER_QUIZ_MAX_ATTEMPTS"] = 5
    with app.app_context(), db.transaction() as s:
        row = s.get(ExamSettings, cid)
        row.quiz_max_attempts = None  # back to the platform's default
    assert me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts").status_code == 201


def test_staff_set_the_retakes_on_the_exam_settings_page(app, demo):
    cid = class_id(demo)
    staff = web_login(app, STAFF)
    page = staff.get(f"/manage/classes/{cid}/exam").get_data(as_text=True)
    assert 'name="quiz_max_attempts" value="3"' in page and 'name="quiz_cooldown_minutes" value="10"' in page
    r = staff.post(f"/manage/classes/{cid}/exam", data={"time_limit_minutes": "30", "pass_percent": "60",
                                                        "max_attempts": "2", "question_count": "10",
                                                        "quiz_max_attempts": "4", "quiz_cooldown_minutes": "30"})
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        row = s.get(ExamSettings, cid)
        assert (row.quiz_max_attempts, row.quiz_cooldown_minutes) == (4, 30)
    r = staff.post(f"/manage/classes/{cid}/exam", data={"time_limit_minutes": "30", "pass_percent": "60",
                                                        "max_attempts": "2", "question_count": "10",
                                                        "quiz_max_attempts": "0", "quiz_cooldown_minutes": "30"})
    assert r.status_code == 400 and "每章测验次数须在1到20之间" in r.get_data(as_text=True)


def test_the_certificate_requirement_counts_chapters_with_quiz_questions(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
        assert take(me, ch["chapter_id"], app, right=True)["passed"] is True
    with app.app_context(), db.transaction() as s:
        from models import TrainingClass, User

        req = quizzes_passed(s, s.get(User, t["user_id"]), s.get(TrainingClass, class_id(demo)))
        assert req.met and req.required == 2


# ---------------------------------------------------------------------------------------------------------------------
# The bank


def test_the_bank_api_takes_a_usage_and_defaults_it_by_chapter(app, demo, api):
    course_id, ch = _course_id(app), chapters(demo)[0]["chapter_id"]
    staff = api(STAFF)
    base = {"type": "truefalse", "key": "对", "score": 1}
    r = staff.post(f"/courses/{course_id}/questions", {**base, "text": "练习题", "chapter_id": ch, "usage": "测验"})
    assert r.status_code == 201 and (r.get_json()["usage"], r.get_json()["usage_label"]) == ("quiz", "测验")
    r = staff.post(f"/courses/{course_id}/questions", {**base, "text": "老客户端的题", "chapter_id": ch})
    assert r.get_json()["usage"] == "both"
    r = staff.post(f"/courses/{course_id}/questions", {**base, "text": "整门课程的题"})
    assert r.get_json()["usage"] == "exam"
    r = staff.post(f"/courses/{course_id}/questions", {**base, "text": "整门课程的练习", "usage": "quiz"})
    assert r.status_code == 400 and "章节" in r.get_json()["error"]["message"]
    r = staff.post(f"/courses/{course_id}/questions", {**base, "text": "乱写用途", "chapter_id": ch, "usage": "随便"})
    assert r.status_code == 400
    listed = {q["text"]: q["usage"] for q in staff.get(f"/courses/{course_id}/questions").get_json()["questions"]}
    assert listed["练习题"] == "quiz" and listed["老客户端的题"] == "both"


def test_the_bank_page_shows_and_edits_the_usage_as_a_new_version(app, demo):
    course_id = _course_id(app)
    staff = web_login(app, STAFF)
    page = staff.get(f"/manage/courses/{course_id}/bank").get_data(as_text=True)
    assert 'data-usage="quiz">测验<' in page and 'data-usage="both">通用<' in page and 'data-usage="exam">考试<' in page
    assert '<select name="usage">' in page
    with app.app_context(), db.transaction() as s:
        q = s.scalar(select(BankQuestion).where(BankQuestion.usage == "both").order_by(BankQuestion.id))
        form = {"type": q.kind, "text": q.text, "key": "", "score": f"{q.score:g}", "chapter_id": str(q.chapter_id)}
        options, key = json.loads(q.options), json.loads(q.key)
    from tracker.assessment import rules

    form.update({f"option{i}": o for i, o in enumerate(options)}, key=rules.key_text(form["type"], options, key))
    r = staff.post(f"/manage/questions/{q.id}", data={**form, "usage": "quiz"})
    assert r.status_code == 302
    with app.app_context(), db.transaction() as s:
        new = s.scalar(select(BankQuestion).where(BankQuestion.replaces_id == q.id))
        assert new.usage == "quiz" and new.text == q.text and services.is_retired(s, s.get(BankQuestion, q.id))
    r = staff.post(f"/manage/questions/{new.id}", data={**form, "usage": "exam"})
    assert r.status_code == 302  # its key was never shown: it may still go to the exam


def test_a_quiz_only_question_whose_key_was_shown_cannot_be_moved_into_the_exam(app, demo, api):
    t = trainee(demo)
    me = api(t["username"])
    ch = chapters(demo)[0]
    give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    result = take(me, ch["chapter_id"])
    practice = next(r["question_id"] for r in result["results"] if r["revealed"])
    with app.app_context(), db.transaction() as s:
        q = s.get(BankQuestion, practice)
        form = {"type": q.kind, "text": q.text, "key": "对" if json.loads(q.key) else "错", "score": f"{q.score:g}",
                "chapter_id": str(q.chapter_id)}
    staff = web_login(app, STAFF)
    for usage in ("both", "exam"):
        r = staff.post(f"/manage/questions/{practice}", data={**form, "usage": usage})
        assert r.status_code == 400 and "已向学员公布过答案" in r.get_data(as_text=True)
    assert staff.post(f"/manage/questions/{practice}", data={**form, "usage": "quiz", "score": "3"}).status_code == 302
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(BankQuestion.usage).where(BankQuestion.replaces_id == practice)) == "quiz"
