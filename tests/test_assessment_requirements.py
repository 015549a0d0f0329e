"""The assessment feature's certificate requirements: every chapter quiz passed and the final exam passed."""
import pytest

from models import TrainingClass, User
from tests.test_assessment_api import bank, chapters, class_id, give, right_answer, trainee
from tracker.assessment import requirements
from tracker.extensions import db

cert_rules = pytest.importorskip("tracker.certificates.rules")


def take(me, app, start_path, right=True):
    body = me.post(start_path).get_json()
    questions = bank(app, [q["question_id"] for q in body["questions"]])
    if right:
        for q in body["questions"]:
            me.post(f"/attempts/{body['attempt_id']}/answers",
                    {"question_id": q["question_id"], "answer": right_answer(questions[q["question_id"]], q)})
    return me.post(f"/attempts/{body['attempt_id']}/submit").get_json()


def test_a_certificate_needs_the_quizzes_and_the_exam_passed(app, demo, api, monkeypatch):
    monkeypatch.setattr(cert_rules, "REQUIREMENTS", list(cert_rules.REQUIREMENTS))
    assert requirements.register() is True
    t = trainee(demo)
    me = api(t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])

    def eligibility():
        with app.app_context(), db.transaction() as s:
            return cert_rules.eligibility(s, s.get(User, t["user_id"]), s.get(TrainingClass, class_id(demo)))

    e = eligibility()
    missing = {m["code"]: m for m in e["missing"]}
    assert set(missing) == {"quizzes_passed", "exam_passed"}
    assert "第1章" in missing["quizzes_passed"]["message"] and missing["exam_passed"]["message"] == "尚未参加结业考试"

    assert take(me, app, f"/classes/{class_id(demo)}/exam/attempts", right=False)["passed"] is False
    assert "未达及格线" in {m["code"]: m for m in eligibility()["missing"]}["exam_passed"]["message"]
    result = take(me, app, f"/classes/{class_id(demo)}/exam/attempts")
    assert result["passed"] is True
    assert take(me, app, f"/chapters/{chapters(demo)[0]['chapter_id']}/quiz/attempts")["passed"] is True
    assert [m["code"] for m in eligibility()["missing"]] == ["quizzes_passed"]
    assert take(me, app, f"/chapters/{chapters(demo)[1]['chapter_id']}/quiz/attempts")["passed"] is True
    e = eligibility()
    assert e["eligible"] is True
    assert e["facts"]["exam"]["score"] == result["score"] and e["facts"]["quizzes"] == {"required": 2, "passed": 2}
