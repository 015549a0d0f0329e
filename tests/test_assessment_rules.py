"""The rules of quizzes and exams without a database: scoring of each type, the paper from its seed, unlocking."""
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.accounts.rules import RuleError
from tracker.assessment import rules
from tracker.assessment.rules import Question
from tracker.learning.services import credited_within


def q(id, kind, options=(), key=None, score=2.0, text=None):
    return Question(id, kind, text or f"题{id}", tuple(options), tuple(key) if isinstance(key, list) else key, score)


SINGLE = q(1, "single", ["甲", "乙", "丙", "丁"], 2)  # key: 丙
MULTIPLE = q(2, "multiple", ["甲", "乙", "丙", "丁"], [0, 2, 3], 3.0)
TRUEFALSE = q(3, "truefalse", (), True)
FILL = q(4, "fill", (), ["遮栏", "围栏"])
BANK = [SINGLE, MULTIPLE, TRUEFALSE, FILL] + [q(i, "single", ["A", "B", "C"], 0) for i in range(5, 15)]


# ---------------------------------------------------------------------------------------------------------------------
# Scoring


def test_single_choice_is_scored_through_the_shown_order():
    order = [2, 0, 3, 1]  # shown: 丙 甲 丁 乙
    assert rules.is_correct(SINGLE, order, rules.normalize_answer(SINGLE, order, 0))  # shown first = 丙
    assert not rules.is_correct(SINGLE, order, rules.normalize_answer(SINGLE, order, 2))  # the original index is not it
    assert rules.normalize_answer(SINGLE, order, "a") == 0
    assert not rules.is_correct(SINGLE, order, None)
    for bad in (4, -1, True, "E", [0], None, 1.0):
        with pytest.raises(RuleError):
            rules.normalize_answer(SINGLE, order, bad)


def test_multiple_choice_is_all_or_nothing():
    order = [3, 2, 1, 0]  # shown: 丁 丙 乙 甲; key 甲 丙 丁 = shown 3, 1, 0
    right = rules.normalize_answer(MULTIPLE, order, [3, 1, 0])
    assert right == [0, 1, 3]
    assert rules.is_correct(MULTIPLE, order, right)
    assert rules.is_correct(MULTIPLE, order, rules.normalize_answer(MULTIPLE, order, "ABD"))
    assert rules.is_correct(MULTIPLE, order, rules.normalize_answer(MULTIPLE, order, [0, 0, 1, 3]))  # repeats folded
    assert not rules.is_correct(MULTIPLE, order, [0, 1])  # too few
    assert not rules.is_correct(MULTIPLE, order, [0, 1, 2, 3])  # too many
    assert not rules.is_correct(MULTIPLE, order, [])
    with pytest.raises(RuleError):
        rules.normalize_answer(MULTIPLE, order, 2)


def test_true_false_accepts_a_bool_the_shown_index_or_a_word():
    order = []
    assert rules.normalize_answer(TRUEFALSE, order, True) is True
    assert rules.normalize_answer(TRUEFALSE, order, 0) is True  # 正确 is shown first
    assert rules.normalize_answer(TRUEFALSE, order, 1) is False
    assert rules.normalize_answer(TRUEFALSE, order, "错") is False
    assert rules.is_correct(TRUEFALSE, order, True) and not rules.is_correct(TRUEFALSE, order, False)
    with pytest.raises(RuleError):
        rules.normalize_answer(TRUEFALSE, order, 2)
    with pytest.raises(RuleError):
        rules.normalize_answer(TRUEFALSE, order, "也许")


def test_fill_in_compares_after_folding_width_case_and_spaces():
    order = []
    assert rules.is_correct(FILL, order, rules.normalize_answer(FILL, order, " 围栏 "))
    assert rules.is_correct(FILL, order, "遮栏")
    abc = q(9, "fill", (), ["AC 220V"])
    assert rules.is_correct(abc, [], "ａｃ　 220v")
    assert not rules.is_correct(FILL, order, "栅栏")
    assert not rules.is_correct(FILL, order, "")
    with pytest.raises(RuleError):
        rules.normalize_answer(FILL, order, 3)


def test_score_paper_adds_scores_of_right_answers_only():
    drawn = [(1, [0, 1, 2, 3]), (2, [0, 1, 2, 3]), (3, []), (4, [])]
    score, max_score, results = rules.score_paper(BANK, drawn, {1: 2, 2: [0, 2], 3: True})
    assert (score, max_score) == (4.0, 9.0)
    assert [r["correct"] for r in results] == [True, False, True, False]
    assert results[3]["answered"] is False
    assert rules.passed(5.4, 5.4) and not rules.passed(5.39, 5.4)


# ---------------------------------------------------------------------------------------------------------------------
# Writing questions


def test_validate_question_stores_each_type_in_canonical_form():
    assert rules.validate_question("单选", " 题 ", ["a", "b", "c", ""], "b", "2") == ("single", "题", ["a", "b", "c"], 1, 2.0)
    assert rules.validate_question("多选题", "题", ["a", "b", "c"], "C,A", 3)[3] == [0, 2]
    assert rules.validate_question("判断", "题", [], "×", 1)[3] is False
    assert rules.validate_question("fill", "题", [], "甲 | 乙", 1)[3] == ["甲", "乙"]


@pytest.mark.parametrize("args, message", [
    (("问答", "题", [], "x", 1), "题型"),
    (("single", "", ["a", "b"], "A", 1), "题目"),
    (("single", "题", ["a"], "A", 1), "2到8个"),
    (("single", "题", ["a", "", "c"], "A", 1), "空项"),
    (("single", "题", ["a", "a"], "A", 1), "重复"),
    (("single", "题", ["a", "b"], "AB", 1), "只能有一个"),
    (("single", "题", ["a", "b"], "C", 1), "不存在"),
    (("multiple", "题", ["a", "b", "c"], "A", 1), "至少两个"),
    (("truefalse", "题", [], "也许", 1), "对"),
    (("fill", "题", [], " | ", 1), "答案"),
    (("single", "题", ["a", "b"], "A", 0), "分值"),
    (("single", "题", ["a", "b"], "A", "两分"), "分值"),
])
def test_validate_question_refuses_what_cannot_be_scored(args, message):
    with pytest.raises(RuleError) as e:
        rules.validate_question(*args)
    assert message in e.value.message


def test_key_text_round_trips_through_validation():
    for kind, options, key in (("single", ["a", "b"], "B"), ("multiple", ["a", "b", "c"], "AC"), ("truefalse", [], "错"),
                               ("fill", [], "甲|乙")):
        fields = rules.validate_question(kind, "题", options, key, 1)
        assert rules.key_text(kind, options, fields[3]) == key


# ---------------------------------------------------------------------------------------------------------------------
# The paper from its seed


def test_the_same_seed_and_bank_rebuild_the_same_paper():
    first = rules.paper("5f1c0ffee", BANK, 6)
    assert rules.paper("5f1c0ffee", list(reversed(BANK)), 6) == first  # the bank's order does not matter
    assert len(first) == 6 and len({qid for qid, _ in first}) == 6
    assert rules.paper("another seed", BANK, 6) != first
    for qid, order in first:
        question = next(x for x in BANK if x.id == qid)
        assert sorted(order) == list(range(len(question.options)))


def test_the_generator_is_the_documented_one():
    """SHA-256 of "seed:counter", first 8 bytes big-endian, rejection sampling: anyone can rebuild it."""
    stream = rules.SeededStream("abc")
    expected = int.from_bytes(hashlib.sha256(b"abc:0").digest()[:8], "big") % 7
    assert stream.below(7) == expected
    assert stream.counter == 1


def test_papers_draw_every_question_and_option_order_over_many_seeds():
    seen_first, seen_orders = set(), set()
    for n in range(300):
        drawn = rules.paper(f"s{n}", BANK, 3)
        seen_first.add(drawn[0][0])
        seen_orders.update(tuple(o) for qid, o in drawn if qid == 1)
    assert seen_first == {x.id for x in BANK}
    assert len(seen_orders) == 24  # all 4! orders of the four options


def test_count_zero_or_more_than_the_bank_takes_the_whole_bank():
    assert len(rules.paper("x", BANK, 0)) == len(BANK)
    assert len(rules.paper("x", BANK, 999)) == len(BANK)
    assert rules.paper("x", [], 5) == []


def test_public_questions_carry_no_key_and_true_false_options_stay_in_place():
    order = rules.paper("k", [SINGLE], 1)[0][1]
    pub = rules.public_question(SINGLE, order)
    assert set(pub) == {"question_id", "type", "type_label", "text", "options", "score"}
    assert pub["options"] == [SINGLE.options[i] for i in order]
    assert rules.public_question(TRUEFALSE, [])["options"] == ["正确", "错误"]
    assert rules.shown_key(SINGLE, order) == order.index(2)


def test_bank_digest_changes_with_any_content():
    d = rules.bank_digest(BANK)
    assert rules.bank_digest(list(reversed(BANK))) == d
    changed = [q(1, "single", ["甲", "乙", "丙", "丁"], 1)] + BANK[1:]
    assert rules.bank_digest(changed) != d


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=20), st.integers(min_value=0, max_value=20))
def test_paper_is_a_pure_function(seed, count):
    assert rules.paper(seed, BANK, count) == rules.paper(seed, BANK, count)


# ---------------------------------------------------------------------------------------------------------------------
# Unlocking at 95%


def test_chapter_quiz_unlocks_at_95_percent_of_the_chapter():
    assert rules.chapter_missing_seconds(142.5, 150, 0.95) == 0  # exactly 95%
    assert rules.chapter_missing_seconds(142.4, 150, 0.95) == 1  # just under: a second still missing
    assert rules.chapter_missing_seconds(0, 150, 0.95) == 143
    assert rules.chapter_missing_seconds(150, 150, 0.95) == 0


def test_exam_unlocks_at_95_percent_of_the_required_time():
    chapters = [(1, 150), (2, 180)]
    required = 330
    # credit beyond a chapter's length does not count towards another chapter
    assert credited_within({1: 400.0, 2: 0.0}, chapters) == 150
    at = credited_within({1: 150.0, 2: 163.5}, chapters)
    assert rules.exam_missing_seconds(at, required, 0.95) == 0  # 313.5 = 95% of 330
    assert rules.exam_missing_seconds(at - 0.5, required, 0.95) == 1
    assert rules.exam_missing_seconds(300, required, 0.95) == 14


# ---------------------------------------------------------------------------------------------------------------------
# What a quiz may reveal, and retakes (issue 11: the exam cannot be harvested through quizzes)


def with_usage(question, usage):
    return Question(question.id, question.kind, question.text, question.options, question.key, question.score,
                    question.chapter_id, usage)


@pytest.mark.parametrize("raw, chapter_id, usage", [
    ("测验", 7, "quiz"), ("考试", 7, "exam"), ("通用", 7, "both"), ("quiz", 7, "quiz"), ("BOTH", 7, "both"),
    (" 测验题 ", 7, "quiz"), ("", 7, "both"), (None, 7, "both"),  # no usage: as every chapter question was drawn
    ("", None, "exam"), ("通用", None, "exam"), ("考试", None, "exam"),  # a course-level question: the exam alone
])
def test_usage_from_a_form_or_a_file(raw, chapter_id, usage):
    assert rules.validate_usage(raw, chapter_id) == usage


def test_usage_refuses_what_no_paper_would_draw():
    with pytest.raises(RuleError) as e:
        rules.validate_usage("测验", None)  # no quiz draws a question of the whole course
    assert "章节" in e.value.message
    with pytest.raises(RuleError) as e:
        rules.validate_usage("练一练", 3)
    assert "测验、考试 或 通用" in e.value.message


def test_quizzes_draw_quiz_and_both_the_exam_exam_and_both():
    assert [u for u in rules.USAGES if rules.may_draw("quiz", u)] == ["quiz", "both"]
    assert [u for u in rules.USAGES if rules.may_draw("exam", u)] == ["exam", "both"]


@pytest.mark.parametrize("question", [SINGLE, MULTIPLE, TRUEFALSE, FILL])
def test_a_quiz_reveals_right_wrong_and_the_key_only_of_a_quiz_only_question(question):
    order = list(range(len(question.options)))
    right = rules.shown_key(question, order)  # for a fill-in question: the accepted texts
    answer = right[0] if question.kind == "fill" else right
    practice = rules.quiz_feedback(with_usage(question, "quiz"), order, answer, True)
    assert practice["revealed"] is True and practice["correct"] is True and practice["key"] == right
    assert practice["score"] == question.score
    blank = rules.quiz_feedback(with_usage(question, "quiz"), order, None, False)
    assert blank["correct"] is False and blank["key"] == right  # practice: the key even when left blank

    for usage in ("both", "exam"):
        for given, answered in ((answer, True), (None, False)):
            shown = rules.quiz_feedback(with_usage(question, usage), order, given, answered)
            # neither the key nor right/wrong (for a true/false question they are the same) nor the points
            assert shown == {"question_id": question.id, "answered": answered, "usage": usage, "revealed": False}


def test_a_quiz_may_be_taken_max_attempts_times_in_all():
    assert rules.quiz_retake([], 1000.0, 3, 600).allowed
    two = [(0.0, 10.0), (700.0, 710.0)]
    assert rules.quiz_retake(two, 2000.0, 3, 600) == rules.Retake(True, None, 2, 3)
    three = two + [(1400.0, 1410.0)]
    refused = rules.quiz_retake(three, 10**9, 3, 600)
    assert (refused.allowed, refused.code, refused.used, refused.retry_after) == (False, "quiz_retake_limit", 3, None)
    assert rules.quiz_retake(three, 10**9, 4, 600).allowed  # a class that allows more
    assert rules.quiz_retake([(0.0, None)], 10**9, 1, 0).code == "quiz_retake_limit"  # an abandoned one counts


def test_the_cool_down_runs_from_the_last_hand_in_to_the_second():
    previous = [(0.0, 100.0), (200.0, 260.0)]  # the last was handed in at 260 s
    early = rules.quiz_retake(previous, 260.0 + 600 - 0.5, 3, 600)
    assert (early.allowed, early.code, early.retry_after, early.next_ts) == (False, "quiz_cooldown", 1, 860.0)
    assert rules.quiz_retake(previous, 261.0, 3, 600).retry_after == 599
    assert rules.quiz_retake(previous, 860.0, 3, 600).allowed  # exactly at the end of the cool-down
    assert rules.quiz_retake(previous, 261.0, 3, 0).allowed  # no cool-down
    assert rules.quiz_retake([(500.0, None)], 1000.0, 3, 600).retry_after == 100  # never handed in: from its start
    # the limit is checked first: no point waiting for a quiz that cannot be taken
    assert rules.quiz_retake(previous, 261.0, 2, 600).code == "quiz_retake_limit"


@given(st.lists(st.tuples(st.floats(0, 1e6), st.one_of(st.none(), st.floats(0, 1e6))), max_size=6),
       st.floats(0, 2e6), st.integers(1, 5), st.integers(0, 3600))
@settings(max_examples=200, deadline=None)
def test_a_refused_cool_down_says_when_and_that_time_is_allowed(previous, now, max_attempts, cooldown):
    decision = rules.quiz_retake(previous, now, max_attempts, cooldown)
    assert decision.used == len(previous)
    if decision.code == "quiz_cooldown":
        assert decision.next_ts > now and decision.retry_after >= 1
        assert decision.retry_after >= decision.next_ts - now
        assert rules.quiz_retake(previous, now + decision.retry_after, max_attempts, cooldown).allowed
    if len(previous) >= max_attempts:
        assert decision.code == "quiz_retake_limit"
