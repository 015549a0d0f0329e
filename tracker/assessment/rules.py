"""Rules of quizzes and exams as pure functions: question checks, scoring, drawing a paper, unlocking.

The paper is drawn with a documented generator (SHA-256 in counter mode, rejection sampling, Fisher–Yates),
not Python's `random`, so that an inspector can rebuild it from the seed and the bank in any language:

    stream(seed) yields SHA-256(seed ‖ ":" ‖ decimal counter) for counter = 0, 1, …, read as big-endian
    64-bit integers (the first 8 bytes of each digest); below(n) draws until a value < ⌊2^64 / n⌋·n and
    returns it mod n. The candidates (question ids ascending) are shuffled by Fisher–Yates (i from the
    last index down to 1, j = below(i + 1)) and the first `count` kept; then, in paper order, each
    single- or multiple-choice question's option indices are shuffled the same way.

Harvesting the exam through quizzes is closed by three rules here: a question is marked for quizzes, the exam or
both (USAGES) and each paper draws only what it may (may_draw); a quiz shows right or wrong and the key only of a
quiz-only question (quiz_feedback), since a question that can appear in the exam must not be learnt from a quiz;
and a chapter quiz may be retaken only a limited number of times, with a cool-down between (quiz_retake).
"""
import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from tracker.accounts.rules import RuleError

KINDS = {"single": "单选题", "multiple": "多选题", "truefalse": "判断题", "fill": "填空题"}
KIND_BY_LABEL = {"单选": "single", "单选题": "single", "单项选择题": "single", "多选": "multiple", "多选题": "multiple",
                 "多项选择题": "multiple", "判断": "truefalse", "判断题": "truefalse", "填空": "fill", "填空题": "fill",
                 **{k: k for k in KINDS}}
TRUEFALSE_OPTIONS = ["正确", "错误"]
MAX_OPTIONS = 8
LETTERS = "ABCDEFGH"
MAX_TEXT = 2000
MAX_OPTION_TEXT = 500
TRUE_WORDS = {"对", "正确", "是", "√", "✓", "T", "TRUE", "Y", "YES"}
FALSE_WORDS = {"错", "错误", "否", "×", "✗", "X", "F", "FALSE", "N", "NO"}
# Which papers may draw a question: chapter quizzes (测验), the final exam (考试) or both (通用).
USAGES = {"quiz": "测验", "exam": "考试", "both": "通用"}
USAGE_BY_LABEL = {"测验": "quiz", "测验题": "quiz", "练习": "quiz", "练习题": "quiz", "仅测验": "quiz",
                  "考试": "exam", "考试题": "exam", "仅考试": "exam", "结业考试": "exam",
                  "通用": "both", "通用题": "both", "测验和考试": "both", "测验与考试": "both", "均可": "both",
                  **{k: k for k in USAGES}}
DRAWS = {"quiz": ("quiz", "both"), "exam": ("exam", "both")}


@dataclass(frozen=True)
class Question:
    """A bank question as the rules see it. key: option index (single), sorted indices (multiple),
    bool (truefalse) or the accepted texts (fill)."""

    id: int
    kind: str
    text: str
    options: tuple
    key: object
    score: float
    chapter_id: object = None
    usage: str = "both"  # not in the snapshot: digests recorded before usages existed must still match

    def snapshot(self):
        key = list(self.key) if isinstance(self.key, (list, tuple)) else self.key
        return {"id": self.id, "kind": self.kind, "text": self.text, "options": list(self.options), "key": key,
                "score": self.score, "chapter_id": self.chapter_id}


# ---------------------------------------------------------------------------------------------------------------------
# Writing a question


def _text(value, label, limit, required=True):
    text = unicodedata.normalize("NFC", value if isinstance(value, str) else ("" if value is None else str(value))).strip()
    if required and not text:
        raise RuleError("invalid_question", f"请填写{label}", "text")
    if len(text) > limit:
        raise RuleError("invalid_question", f"{label}不能超过{limit}字", "text")
    return text


def _letters_to_indices(raw, n_options, label="答案"):
    """"B" -> [1]; "A,C" / "AC" / "a c" -> [0, 2]; also 1-based digits."""
    text = unicodedata.normalize("NFKC", str(raw)).upper()
    text = re.sub(r"[\s,，、;；/|]+", "", text)
    if not text:
        raise RuleError("invalid_question", f"请填写{label}", "key")
    out = []
    for c in text:
        if c in LETTERS:
            i = LETTERS.index(c)
        elif c.isdigit() and c != "0":
            i = int(c) - 1
        else:
            raise RuleError("invalid_question", f"{label}“{raw}”应为选项字母，如 A 或 ACD", "key")
        if i >= n_options:
            raise RuleError("invalid_question", f"{label}“{raw}”中的选项 {LETTERS[i] if i < 8 else c} 不存在", "key")
        if i in out:
            raise RuleError("invalid_question", f"{label}“{raw}”中有重复的选项", "key")
        out.append(i)
    return sorted(out)


def parse_truefalse(raw):
    if isinstance(raw, bool):
        return raw
    word = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip().upper()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RuleError("invalid_question", "判断题答案应为“对”或“错”", "key")


def split_fill_key(raw):
    """Accepted answers of a fill-in question, separated by | or ；."""
    if isinstance(raw, (list, tuple)):
        parts = [str(p) for p in raw]
    else:
        parts = re.split(r"[|｜；;]", str(raw or ""))
    parts = [p.strip() for p in parts if p.strip()]
    return parts


def validate_question(kind, text, options, key, score):
    """Check a question as staff wrote it; returns (kind, text, options, key, score) in stored form.

    options: list of texts (empty for true/false and fill-in); key: for choices the letters ("B", "ACD")
    or indices, for true/false 对/错 or a bool, for fill-in the accepted answers ("答案1|答案2" or a list).
    """
    kind = KIND_BY_LABEL.get((kind or "").strip() if isinstance(kind, str) else "")
    if kind is None:
        raise RuleError("invalid_question", "题型应为 单选、多选、判断 或 填空", "kind")
    text = _text(text, "题目", MAX_TEXT)
    opts = []
    if kind in ("single", "multiple"):
        opts = [_text(o, "选项", MAX_OPTION_TEXT, required=False) for o in (options or [])]
        while opts and not opts[-1]:
            opts.pop()
        if any(not o for o in opts):
            raise RuleError("invalid_question", "选项中间不能有空项", "options")
        if not 2 <= len(opts) <= MAX_OPTIONS:
            raise RuleError("invalid_question", f"选择题须有2到{MAX_OPTIONS}个选项", "options")
        if len(set(opts)) != len(opts):
            raise RuleError("invalid_question", "选项内容不能重复", "options")
        if isinstance(key, int) and not isinstance(key, bool):
            key = [key]
        if isinstance(key, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in key):
            indices = sorted(set(key))
            if not indices or any(not 0 <= i < len(opts) for i in indices):
                raise RuleError("invalid_question", "答案不是有效的选项", "key")
        else:
            indices = _letters_to_indices(key if key is not None else "", len(opts))
        if kind == "single":
            if len(indices) != 1:
                raise RuleError("invalid_question", "单选题只能有一个正确答案", "key")
            key = indices[0]
        else:
            if len(indices) < 2:
                raise RuleError("invalid_question", "多选题须有至少两个正确答案", "key")
            key = indices
    elif kind == "truefalse":
        key = parse_truefalse(key)
    else:
        key = split_fill_key(key)
        if not key:
            raise RuleError("invalid_question", "请填写填空题的答案（多个可接受答案用 | 分隔）", "key")
        if any(len(k) > MAX_OPTION_TEXT for k in key):
            raise RuleError("invalid_question", f"答案不能超过{MAX_OPTION_TEXT}字", "key")
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise RuleError("invalid_question", "分值须为数字", "score") from None
    if not (0 < score <= 100) or math.isnan(score):
        raise RuleError("invalid_question", "分值须大于0且不超过100", "score")
    return kind, text, opts, key, round(score, 2)


def default_usage(chapter_id):
    """A question written without a usage (an old import file, an API client that does not know the field): a
    chapter's question is 通用, as every chapter question was before usages existed, so the exam keeps its questions
    and quizzes never show its key; a course-level question can only be drawn by the exam."""
    return "both" if chapter_id is not None else "exam"


def validate_usage(raw, chapter_id):
    """The stored usage of a question of `chapter_id` (None: the whole course) from a code or a Chinese label."""
    text = unicodedata.normalize("NFKC", raw if isinstance(raw, str) else ("" if raw is None else str(raw))).strip()
    if not text:
        return default_usage(chapter_id)
    usage = USAGE_BY_LABEL.get(text) or USAGE_BY_LABEL.get(text.lower())
    if usage is None:
        raise RuleError("invalid_question", "用途应为 测验、考试 或 通用", "usage")
    if chapter_id is None and usage == "quiz":
        raise RuleError("invalid_question", "测验题须选择所属章节：整门课程的题只能用于结业考试", "usage")
    # A course-level question is never drawn by a quiz: 通用 means the exam alone, and says so in the bank.
    return "exam" if chapter_id is None else usage


def may_draw(paper_kind, usage):
    """Whether a paper of `paper_kind` (quiz | exam) may draw a question of `usage`."""
    return usage in DRAWS[paper_kind]


def key_text(kind, options, key):
    """The key as staff write it in a file: "B", "ACD", "对", "答案1|答案2"."""
    if kind == "single":
        return LETTERS[key]
    if kind == "multiple":
        return "".join(LETTERS[i] for i in key)
    if kind == "truefalse":
        return "对" if key else "错"
    return "|".join(key)


# ---------------------------------------------------------------------------------------------------------------------
# Drawing a paper


class SeededStream:
    """The paper's random numbers: SHA-256 in counter mode (see the module's docstring)."""

    def __init__(self, seed):
        self.seed, self.counter = str(seed), 0

    def _next64(self):
        digest = hashlib.sha256(f"{self.seed}:{self.counter}".encode()).digest()
        self.counter += 1
        return int.from_bytes(digest[:8], "big")

    def below(self, n):
        limit = (2**64 // n) * n
        while True:
            v = self._next64()
            if v < limit:
                return v % n

    def shuffle(self, items):
        items = list(items)
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def paper(seed, bank, count):
    """The paper drawn by `seed` from `bank` (Questions): [(question_id, option order)], option order being
    the original option indices in the order shown. The same seed and bank always give the same paper."""
    rng = SeededStream(seed)
    candidates = sorted(bank, key=lambda q: q.id)
    chosen = rng.shuffle(candidates)[:count if count and count > 0 else len(candidates)]
    out = []
    for q in chosen:
        order = rng.shuffle(range(len(q.options))) if q.kind in ("single", "multiple") else list(range(len(q.options)))
        out.append((q.id, order))
    return out


def bank_digest(bank):
    """SHA-256 of the candidates' content (canonical JSON, ids ascending): the inspector's check of the bank."""
    snap = [q.snapshot() for q in sorted(bank, key=lambda q: q.id)]
    return hashlib.sha256(json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def shown_options(q, order):
    """The options in the order the trainee sees them."""
    if q.kind == "truefalse":
        return list(TRUEFALSE_OPTIONS)
    return [q.options[i] for i in order]


def public_question(q, order):
    """What the browser may know before submission: never the key."""
    return {"question_id": q.id, "type": q.kind, "type_label": KINDS[q.kind], "text": q.text,
            "options": shown_options(q, order), "score": q.score}


def shown_key(q, order):
    """The key in the paper's terms (shown option indices), for after submission."""
    if q.kind == "single":
        return order.index(q.key)
    if q.kind == "multiple":
        return sorted(order.index(i) for i in q.key)
    return q.key if q.kind == "truefalse" else list(q.key)


# ---------------------------------------------------------------------------------------------------------------------
# Answers and scoring


def _choice_index(value, n):
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < n:
            return value
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in LETTERS[:n]:
        return LETTERS.index(value.strip().upper())
    raise RuleError("invalid_answer", "答案不是有效的选项", "answer")


def normalize_answer(q, order, answer):
    """The trainee's answer in canonical form (shown option indices, a bool, or a text), or RuleError."""
    n = len(shown_options(q, order))
    if q.kind == "single":
        return _choice_index(answer, n)
    if q.kind == "multiple":
        if isinstance(answer, str):
            answer = [c for c in re.sub(r"[\s,，、]+", "", answer)]
        if not isinstance(answer, list) or len(answer) > n:
            raise RuleError("invalid_answer", "多选题的答案应为选项的列表", "answer")
        indices = sorted({_choice_index(a, n) for a in answer})
        return indices
    if q.kind == "truefalse":
        if isinstance(answer, bool):
            return answer
        if isinstance(answer, int) and answer in (0, 1):
            return answer == 0  # option 0 is 正确
        try:
            return parse_truefalse(answer)
        except RuleError:
            raise RuleError("invalid_answer", "判断题的答案应为 true 或 false", "answer") from None
    if not isinstance(answer, str) or len(answer) > MAX_OPTION_TEXT:
        raise RuleError("invalid_answer", f"填空题的答案应为不超过{MAX_OPTION_TEXT}字的文字", "answer")
    return answer.strip()


def _fold(text):
    """Fill-in answers compare after width, case and spacing are folded: "ＡＢ c" equals "ab c"."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def is_correct(q, order, answer):
    """Whether a canonical answer (see normalize_answer) is right. Multiple choice is all or nothing."""
    if answer is None:
        return False
    if q.kind == "single":
        return order[answer] == q.key
    if q.kind == "multiple":
        return sorted(order[i] for i in answer) == sorted(q.key)
    if q.kind == "truefalse":
        return answer is q.key
    return _fold(answer) in {_fold(k) for k in q.key}


def score_paper(questions, drawn, answers):
    """(score, max score, per-question results) for a paper; `answers` maps question id to canonical answer."""
    by_id = {q.id: q for q in questions}
    score, max_score, results = 0.0, 0.0, []
    for qid, order in drawn:
        q = by_id[qid]
        ok = is_correct(q, order, answers.get(qid))
        max_score += q.score
        score += q.score if ok else 0.0
        results.append({"question_id": qid, "correct": ok, "score": q.score if ok else 0.0, "answered": qid in answers})
    return round(score, 2), round(max_score, 2), results


def passed(score, pass_score):
    return score + 1e-9 >= pass_score


def quiz_feedback(q, order, answer, answered):
    """What a trainee sees of one question after handing in a quiz. A quiz-only question: right or wrong, its
    score and its key. A question that may appear in the exam: only whether it was answered, because right or
    wrong is its key for a true/false question and narrows a choice with every retake."""
    out = {"question_id": q.id, "answered": answered, "usage": q.usage, "revealed": q.usage == "quiz"}
    if q.usage == "quiz":
        ok = is_correct(q, order, answer) if answered else False
        out.update(correct=ok, score=q.score if ok else 0.0, key=shown_key(q, order))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Retaking a chapter quiz


@dataclass(frozen=True)
class Retake:
    """The answer to "may this trainee start the chapter's quiz again now?"."""

    allowed: bool
    code: Optional[str]  # quiz_retake_limit | quiz_cooldown when refused
    used: int
    max_attempts: int
    retry_after: Optional[int] = None  # seconds, for quiz_cooldown
    next_ts: Optional[float] = None  # server time from which it may, for quiz_cooldown


def quiz_retake(previous, now, max_attempts, cooldown_seconds):
    """previous: [(started_ts, submitted_ts or None)] of the trainee's attempts at the chapter's quiz. At most
    `max_attempts` in all (a pass stays a pass; more tries would only be more looks at the paper), and the next one
    no sooner than `cooldown_seconds` after the last was handed in (or started, if it never was)."""
    used = len(previous)
    if used >= max_attempts:
        return Retake(False, "quiz_retake_limit", used, max_attempts)
    if previous and cooldown_seconds > 0:
        ready = max(sub if sub is not None else start for start, sub in previous) + cooldown_seconds
        if now < ready:
            wait = max(1, math.ceil(ready - now))
            if now + wait < ready:  # ready - now was rounded down: waiting `wait` seconds must be enough
                wait += 1
            return Retake(False, "quiz_cooldown", used, max_attempts, wait, ready)
    return Retake(True, None, used, max_attempts)


# ---------------------------------------------------------------------------------------------------------------------
# Unlocking


def chapter_missing_seconds(credited, chapter_seconds, share):
    """Seconds still to be credited before the chapter's quiz opens (0: open)."""
    need = share * chapter_seconds
    return 0 if credited + 1e-6 >= need else max(1, math.ceil(need - credited - 1e-6))


def exam_missing_seconds(credited, required, share):
    need = share * required
    return 0 if credited + 1e-6 >= need else max(1, math.ceil(need - credited - 1e-6))
