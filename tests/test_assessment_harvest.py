"""Issue 11: the final exam cannot be harvested through chapter quizzes.

A hostile trainee takes every chapter quiz as often as the server lets it (blank and random papers, waiting out
each cool-down on the server's clock), collects every key it is shown (submit answers, the attempt read back,
right/wrong it can turn into a key, the quiz, exam and record pages), then sits the final exam answering harvested
keys where it has them and a fixed guess elsewhere. The harvest must be worth nothing on the exam: the score is the
fixed guess's own on that paper, and no harvested key belongs to a question the exam may draw. Quiz-only keys are
still shown, so that trainees can practise.

Only the API of ../shared/API.md, the pages and the bank's rows (for the ground truth) are used, so that the test
runs unchanged against the code before the fix, where it fails.
"""
import json
import random
import re
import time

from sqlalchemy import select

from models import Attempt, BankQuestion
from tests.test_access import web_login
from tests.test_assessment_api import chapters, class_id, give, trainee
from tracker.assessment import rules, services
from tracker.extensions import db

FIXED_GUESS = {"single": 0, "multiple": [0, 1], "truefalse": True, "fill": "不知道"}


def as_texts(question, options, key):
    """A key the trainee was shown, in terms that survive another paper's option order: option texts."""
    if question["type"] == "single":
        return ("single", options[key])
    if question["type"] == "multiple":
        return ("multiple", frozenset(options[i] for i in key))
    if question["type"] == "truefalse":
        return ("truefalse", bool(key))
    return ("fill", key[0] if isinstance(key, list) else key)


def harvest_result(result, paper, given, keys):
    """Every key `result` gives away: a key field, or right/wrong on an answer the trainee gave."""
    by_id = {q["question_id"]: q for q in paper["questions"]}
    for r in result.get("results") or []:
        q = by_id[r["question_id"]]
        if r.get("key") is not None:
            keys[q["question_id"]] = as_texts(q, q["options"], r["key"])
        elif r.get("correct") is True and q["question_id"] in given:
            keys[q["question_id"]] = as_texts(q, q["options"], given[q["question_id"]])
        elif r.get("correct") is False and q["type"] == "truefalse" and q["question_id"] in given:
            keys[q["question_id"]] = ("truefalse", not given[q["question_id"]])


def random_answer(q, rnd):
    n = len(q["options"])
    if q["type"] == "single":
        return rnd.randrange(n)
    if q["type"] == "multiple":
        return sorted(rnd.sample(range(n), 2))
    if q["type"] == "truefalse":
        return rnd.random() < 0.5
    return rnd.choice(["遮栏", "有电", "随便"])


def answer_from_keys(q, known):
    """The harvested key in this paper's terms, or None."""
    if known is None:
        return None
    kind, value = known
    if kind == "single":
        return q["options"].index(value) if value in q["options"] else None
    if kind == "multiple":
        return sorted(q["options"].index(v) for v in value) if value <= set(q["options"]) else None
    return value


def test_a_hostile_trainee_harvests_every_quiz_and_scores_no_better_than_a_fixed_guess_on_the_exam(
        app, demo, api, monkeypatch):
    rnd = random.Random(11)
    t = trainee(demo)
    me, web = api(t["username"]), web_login(app, t["username"])
    for ch in chapters(demo):
        give(app, t["user_id"], ch["chapter_id"], ch["seconds"])
    clock = [time.time()]
    monkeypatch.setattr(services, "server_now", lambda: clock[0])  # the server's clock, moved by the test

    keys, pages, attempts = {}, [], 0
    for ch in chapters(demo):
        for n in range(30):  # as often as the server allows
            r = me.post(f"/chapters/{ch['chapter_id']}/quiz/attempts")
            if r.status_code == 409:
                err = r.get_json()["error"]
                pages.append(web.get(f"/learn/chapters/{ch['chapter_id']}/quiz").get_data(as_text=True))
                if err["code"] == "quiz_cooldown":
                    clock[0] += err["retry_after"]
                    continue
                assert err["code"] == "quiz_retake_limit", err
                break
            assert r.status_code == 201, r.get_json()
            paper, attempts = r.get_json(), attempts + 1
            given = {}
            if n % 2:  # every other paper answered at random, the others handed in blank
                for q in paper["questions"]:
                    given[q["question_id"]] = random_answer(q, rnd)
                    assert me.post(f"/attempts/{paper['attempt_id']}/answers",
                                   {"question_id": q["question_id"], "answer": given[q["question_id"]]}).status_code == 200
            result = me.post(f"/attempts/{paper['attempt_id']}/submit").get_json()
            harvest_result(result, paper, given, keys)
            again = me.get(f"/attempts/{paper['attempt_id']}").get_json()
            harvest_result(again.get("result") or {}, paper, given, keys)
            pages.append(web.get(f"/learn/chapters/{ch['chapter_id']}/quiz").get_data(as_text=True))
    pages.append(web.get("/learn/record").get_data(as_text=True))
    pages.append(me.get(f"/trainees/{t['user_id']}/record").get_data(as_text=True))

    # The final exam: harvested keys where there are any, the fixed guess elsewhere.
    exam = me.post(f"/classes/{class_id(demo)}/exam/attempts")
    assert exam.status_code == 201, exam.get_json()
    exam = exam.get_json()
    pages.append(web.get(f"/learn/classes/{class_id(demo)}/exam").get_data(as_text=True))
    used_harvest = 0
    for q in exam["questions"]:
        answer = answer_from_keys(q, keys.get(q["question_id"]))
        used_harvest += answer is not None
        me.post(f"/attempts/{exam['attempt_id']}/answers", {"question_id": q["question_id"],
                                                            "answer": FIXED_GUESS[q["type"]] if answer is None else answer})
    score = me.post(f"/attempts/{exam['attempt_id']}/submit").get_json()["score"]
    pages.append(web.get(f"/learn/classes/{class_id(demo)}/exam").get_data(as_text=True))
    exam_again = me.get(f"/attempts/{exam['attempt_id']}").get_json()
    harvest_result(exam_again["result"], exam, {}, keys)
    assert not {"results", "key", "correct"} & set(exam_again["result"])  # an exam shows no keys at all

    with app.app_context(), db.transaction() as s:
        attempt = s.get(Attempt, exam["attempt_id"])
        drawn = services.paper_questions(s, attempt)
        bank = {q.id: q for q in s.scalars(select(BankQuestion))}
    # What the fixed guess alone scores on this very paper: the harvest must add nothing to it.
    guess_score = round(sum(q.score for q, order in drawn
                            if rules.is_correct(q, order, rules.normalize_answer(q, order, FIXED_GUESS[q.kind]))), 2)
    assert score <= guess_score, (f"the harvest raised the exam score from {guess_score} to {score}: "
                                  f"{used_harvest} of {len(drawn)} exam questions answered from quiz keys")
    assert used_harvest == 0

    exam_eligible = {qid for qid, q in bank.items() if q.usage in ("exam", "both")}
    assert not set(keys) & exam_eligible  # no key of a question the exam may draw, whatever the paper
    # nor in any page the trainee saw: the fill-in keys and the texts of the right options of exam questions
    html = "\n".join(pages)
    for qid in exam_eligible:
        q = bank[qid]
        key, options = json.loads(q.key), json.loads(q.options)
        texts = key if q.kind == "fill" else [options[i] for i in ([key] if q.kind == "single" else key)] \
            if q.kind != "truefalse" else []
        for text in texts:
            assert not re.search(re.escape(text), html), (qid, text)
    assert "正确答案" not in html

    # Practice still works: every quiz-only question drawn had its key shown, and only those.
    assert attempts == 2 * app.config["TRACKER_QUIZ_MAX_ATTEMPTS"]
    quiz_only = {qid for qid, q in bank.items() if q.usage == "quiz"}
    assert quiz_only and set(keys) == quiz_only
