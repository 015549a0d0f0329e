"""Anomalies (异常线索) as pure functions over plain data: no database, no Flask, tested on hand-built facts.

Each detector returns Findings: a trainee, a sign, its strength (0..1) and the evidence that shows it. The risk
score of a trainee is a weighted sum over its signs, each sign counted once at its strongest:

    score = min(100, round(Σ SIGNS[sign].weight × strength))

    sign               weight  what it is
    webdriver              30  a heartbeat's env says navigator.webdriver is true (Selenium, Playwright, Puppeteer)
    headless               30  a headless browser's user agent (HeadlessChrome, PhantomJS); a scripting library's
                               (python-requests, curl, …) counts at half strength
    regular_timing         25  ≥ 20 heartbeat intervals in one session with a coefficient of variation < 0.01
                               (server-measured or client_time): no pause, no seek, no tab switch, ever
    shared_device          35  sessions of different accounts overlapping ≥ 60 s on one address and user agent
    shared_address         10  ≥ 3 accounts at once from one network address on different user agents
    shared_face            40  one face on several accounts: the proctoring feature's proxy flag (代刷), both sides
    face_changed           20  a re-enrolled face unlike the one it replaced
    photo_failures         25  photo checks failed or missed: ≥ 30 % of ≥ 3, full strength at 60 %, or ≥ 2 checks
                               that saw another person
    night_study            15  ≥ 15 minutes of study between 0:00 and 5:00 China Standard Time; full at 1 hour
    no_break               15  study without a 10-minute break for more than 4 hours; full at 8 hours
    identical_answers      30  two trainees' exam answers alike (≥ 90 % of ≥ 5 common questions, with ≥ 2 of the
                               same wrong answers) or answered in the same order at the same times (median ≤ 5 s)
    repeated_trade         20  the same person (ID number) enrolled in several classes of the same occupation
                               (同一人员多次重复参加同一工种培训), across institutions or not

A trainee at ≥ 60 is high risk, ≥ 30 medium, above 0 low. No single weak sign (timing, night, a shared office
address) reaches medium alone: those are common enough among honest learners that only their combination, or a
strong sign, should draw an inspector. A class's score blends its worst trainee with how widespread risk is:

    class score = min(100, round(0.5 × highest trainee score + 50 × share of its trainees at medium or above))
"""
import math
import re
import statistics
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from tracker.clock import CST

HIGH, MEDIUM = 60, 30
LEVEL_LABELS = {"high": "高", "medium": "中", "low": "低", "none": "无"}
PHOTO_KINDS = ("photo_signin", "photo_random", "photo_exam")


@dataclass(frozen=True)
class Sign:
    label: str
    weight: int


SIGNS = {
    "webdriver": Sign("浏览器自动化标志（navigator.webdriver）", 30),
    "headless": Sign("无头浏览器或脚本客户端（外挂软件刷课）", 30),
    "regular_timing": Sign("心跳间隔机器般规律", 25),
    "shared_device": Sign("多个账号同时在同一设备学习", 35),
    "shared_address": Sign("多个账号同时从同一网络地址学习", 10),
    "shared_face": Sign("同一人脸登记在多个账号（疑似代刷）", 40),
    "face_changed": Sign("重新登记的人脸与原登记不符", 20),
    "photo_failures": Sign("拍照核验失败或超时较多", 25),
    "night_study": Sign("凌晨（0:00–5:00）学习", 15),
    "no_break": Sign("连续学习数小时无休息", 15),
    "identical_answers": Sign("考试答案或答题时间雷同", 30),
    "repeated_trade": Sign("同一人员重复参加同一工种培训", 20),
}

HEADLESS = re.compile(r"HeadlessChrome|PhantomJS|\bHeadless\b", re.I)
SCRIPTED = re.compile(r"python-requests|python-urllib|\bcurl/|\bwget/|Go-http-client|aiohttp|python-httpx|node-fetch|axios/",
                      re.I)


@dataclass(frozen=True)
class SessionFacts:
    """A learning session as the detectors see it. Times are epoch seconds (server clock)."""

    session_id: int
    trainee_id: int
    class_id: int
    started_ts: float
    last_ts: float  # the last heartbeat's server time (the start when there was none)
    address: str = ""
    user_agent: str = ""
    beats: tuple = ()  # server receive times of the heartbeats, in order
    client_times: tuple = ()  # each heartbeat's client_time (None where absent)
    webdriver_beats: int = 0  # heartbeats whose env said navigator.webdriver was true
    env_agents: tuple = ()  # distinct user agents the page reported in env.ua


@dataclass(frozen=True)
class CheckFacts:
    check_id: int
    trainee_id: int
    kind: str
    status: str  # pending | passed | failed | missed
    reason: str | None = None


@dataclass(frozen=True)
class FlagFacts:
    flag_id: int
    kind: str  # proxy_suspected | face_changed
    trainee_id: int
    other_trainee_id: int | None = None
    distance: float | None = None


@dataclass(frozen=True)
class Answer:
    content: str  # the answer in the bank's terms (original option indices, folded text), comparable across papers
    correct: bool
    ts: float  # server time the (last) answer was received


@dataclass(frozen=True)
class AttemptFacts:
    attempt_id: int
    trainee_id: int
    class_id: int
    started_ts: float
    answers: dict = field(default_factory=dict)  # question id -> Answer


@dataclass(frozen=True)
class EnrolmentFacts:
    trainee_id: int
    class_id: int
    institution_id: int
    occupation: str
    start_date: str | None = None


@dataclass(frozen=True)
class Finding:
    trainee_id: int
    sign: str
    strength: float
    evidence: dict


# ---------------------------------------------------------------------------------------------------------------------
# Small pure helpers


def intervals(times):
    """Differences between consecutive times, skipping missing ones (None)."""
    present = [t for t in times if t is not None]
    return [b - a for a, b in zip(present, present[1:])]


def coefficient_of_variation(values):
    """Population standard deviation over mean; None for fewer than two values or a mean that is not positive."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if mean <= 0:
        return None
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) / mean


def active_spans(beats, max_gap=120.0):
    """(start, end) of the stretches between consecutive heartbeats no further apart than max_gap: time at the player."""
    return [(a, b) for a, b in zip(beats, beats[1:]) if 0 < b - a <= max_gap]


def cst_date(ts):
    return datetime.fromtimestamp(ts, CST).date()


def cst_day_start(ts):
    """Epoch seconds of the China Standard Time midnight at or before ts (CST has no daylight saving: arithmetic)."""
    offset = 8 * 3600
    return math.floor((ts + offset) / 86400) * 86400 - offset


def merge_spans(spans, join_gap=0.0):
    """Sorted spans joined where the gap between them is below join_gap."""
    out = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < join_gap + 1e-9:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [tuple(x) for x in out]


def normalize_occupation(text):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


# ---------------------------------------------------------------------------------------------------------------------
# Detectors


def automation_signs(sessions):
    """navigator.webdriver reported by the page; headless browsers and scripting libraries in the user agent."""
    out = []
    for s in sessions:
        if s.webdriver_beats:
            out.append(Finding(s.trainee_id, "webdriver", 1.0, {"session_id": s.session_id, "heartbeats": s.webdriver_beats}))
        agents = sorted({s.user_agent, *s.env_agents} - {"", None})
        headless = [a for a in agents if HEADLESS.search(a)]
        scripted = [a for a in agents if SCRIPTED.search(a)]
        if headless:
            out.append(Finding(s.trainee_id, "headless", 1.0, {"session_id": s.session_id, "user_agent": headless[0]}))
        elif scripted:
            out.append(Finding(s.trainee_id, "headless", 0.5, {"session_id": s.session_id, "user_agent": scripted[0],
                                                               "scripted": True}))
    return out


def regular_timing(sessions, min_intervals=20, max_cv=0.01):
    """A heartbeat stream regular as a metronome: people pause, seek and switch tabs, and each sends a beat."""
    out = []
    for s in sessions:
        server = intervals(s.beats)
        if len(server) < min_intervals:
            continue
        client = intervals(s.client_times)
        cv_server = coefficient_of_variation(server)
        cv_client = coefficient_of_variation(client) if len(client) >= min_intervals else None
        if (cv_server is not None and cv_server < max_cv) or (cv_client is not None and cv_client < max_cv):
            out.append(Finding(s.trainee_id, "regular_timing", 1.0, {
                "session_id": s.session_id, "intervals": len(server), "mean_interval": round(statistics.fmean(server), 3),
                "cv_server": None if cv_server is None else round(cv_server, 5),
                "cv_client": None if cv_client is None else round(cv_client, 5)}))
    return out


def overlap_clusters(sessions, min_overlap):
    """Accounts linked by sessions of different trainees that overlapped by ≥ min_overlap seconds.

    Returns [{"trainees": sorted ids, "sessions": sorted ids, "overlap": {trainee: seconds}, "from", "to"}], where
    a trainee's overlap is the time (counted once) their sessions ran alongside another account's in the cluster.
    """
    ordered = sorted(sessions, key=lambda x: (x.started_ts, x.session_id))
    parent = {}

    def root(t):
        parent.setdefault(t, t)
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.started_ts >= a.last_ts:
                break  # sorted by start: no later session can overlap a
            if a.trainee_id == b.trainee_id:
                continue
            end = min(a.last_ts, b.last_ts)
            if end - b.started_ts >= min_overlap:
                pairs.append((a, b, (b.started_ts, end)))
                parent[root(a.trainee_id)] = root(b.trainee_id)
    clusters = {}
    for a, b, span in pairs:
        c = clusters.setdefault(root(a.trainee_id), {"trainees": set(), "sessions": set(), "spans": defaultdict(list),
                                                     "from": a.started_ts, "to": a.last_ts})
        c["trainees"] |= {a.trainee_id, b.trainee_id}
        c["sessions"] |= {a.session_id, b.session_id}
        c["spans"][a.trainee_id].append(span)
        c["spans"][b.trainee_id].append(span)
        c["from"] = min(c["from"], a.started_ts, b.started_ts)
        c["to"] = max(c["to"], a.last_ts, b.last_ts)
    return [{"trainees": sorted(c["trainees"]), "sessions": sorted(c["sessions"]), "from": c["from"], "to": c["to"],
             "overlap": {t: sum(y - x for x, y in merge_spans(spans)) for t, spans in c["spans"].items()}}
            for c in clusters.values()]


def shared_devices(sessions, min_overlap=60.0, min_address_accounts=3):
    """Several accounts learning at once from one device (address and user agent), or many from one address."""
    out = []
    by_device, by_address = defaultdict(list), defaultdict(list)
    for s in sessions:
        if s.address:
            by_device[(s.address, s.user_agent or "")].append(s)
            by_address[s.address].append(s)
    for (address, agent), group in sorted(by_device.items()):
        for c in overlap_clusters(group, min_overlap):
            for t in c["trainees"]:
                out.append(Finding(t, "shared_device", 1.0, {
                    "address": address, "user_agent": agent, "accounts": c["trainees"], "sessions": c["sessions"],
                    "overlap_seconds": round(c["overlap"].get(t, 0.0), 1), "from": c["from"], "to": c["to"]}))
    for address, group in sorted(by_address.items()):
        for c in overlap_clusters(group, min_overlap):
            agents = {s.user_agent for s in group if s.session_id in set(c["sessions"])}
            if len(c["trainees"]) < min_address_accounts or len(agents) < 2:
                continue  # one user agent throughout: that is the shared_device case
            for t in c["trainees"]:
                out.append(Finding(t, "shared_address", 1.0, {
                    "address": address, "accounts": c["trainees"], "sessions": c["sessions"], "user_agents": len(agents),
                    "overlap_seconds": round(c["overlap"].get(t, 0.0), 1), "from": c["from"], "to": c["to"]}))
    return out


def face_flags(flags):
    """The proctoring feature's flags: a face enrolled under another ID marks both accounts."""
    out = []
    for f in flags:
        evidence = {"flag_id": f.flag_id, "distance": f.distance}
        if f.kind == "proxy_suspected":
            out.append(Finding(f.trainee_id, "shared_face", 1.0, {**evidence, "other_trainee_id": f.other_trainee_id,
                                                                   "role": "tried"}))
            if f.other_trainee_id is not None:
                out.append(Finding(f.other_trainee_id, "shared_face", 1.0, {**evidence, "other_trainee_id": f.trainee_id,
                                                                             "role": "enrolled"}))
        elif f.kind == "face_changed":
            out.append(Finding(f.trainee_id, "face_changed", 1.0, evidence))
    return out


def photo_failures(checks, min_checks=3, min_rate=0.3, full_rate=0.6, other_person_full=2):
    """Photo checks failed or missed, as a share of those resolved; another person's face counts most."""
    per = defaultdict(list)
    for c in checks:
        if c.kind in PHOTO_KINDS and c.status in ("passed", "failed", "missed"):
            per[c.trainee_id].append(c)
    out = []
    for trainee_id, rows in sorted(per.items()):
        bad = [c for c in rows if c.status != "passed"]
        other = [c for c in bad if c.reason == "other_person"]
        rate = len(bad) / len(rows)
        if len(other) >= other_person_full:
            strength = 1.0
        elif len(rows) >= min_checks and rate >= min_rate:
            strength = min(1.0, rate / full_rate)
        else:
            continue
        out.append(Finding(trainee_id, "photo_failures", round(strength, 3), {
            "resolved": len(rows), "failed": sum(c.status == "failed" for c in rows),
            "missed": sum(c.status == "missed" for c in rows), "other_person": len(other), "rate": round(rate, 3),
            "checks": [c.check_id for c in bad][:20]}))
    return out


def night_study(sessions, start_hour=0, end_hour=5, min_seconds=900.0, full_seconds=3600.0, max_gap=120.0):
    """Time at the player between start_hour and end_hour, China Standard Time, summed per night."""
    nights = defaultdict(lambda: defaultdict(float))
    for s in sessions:
        for a, b in merge_spans(active_spans(s.beats, max_gap)):
            day = cst_day_start(a)
            while day < b:
                seconds = min(b, day + end_hour * 3600) - max(a, day + start_hour * 3600)
                if seconds > 0:
                    nights[s.trainee_id][cst_date(day).isoformat()] += seconds
                day += 86400
    out = []
    for trainee_id, per_night in sorted(nights.items()):
        total = sum(per_night.values())
        if total >= min_seconds:
            out.append(Finding(trainee_id, "night_study", round(min(1.0, total / full_seconds), 3), {
                "minutes": round(total / 60, 1),
                "nights": [{"date": d, "minutes": round(v / 60, 1)} for d, v in sorted(per_night.items())]}))
    return out


def no_break(sessions, max_hours=4.0, min_break=600.0, max_gap=120.0):
    """Study runs (across sessions) with no break of min_break seconds, longer than max_hours."""
    spans = defaultdict(list)
    for s in sessions:
        spans[s.trainee_id] += active_spans(s.beats, max_gap)
    out = []
    limit = max_hours * 3600
    for trainee_id, rows in sorted(spans.items()):
        runs = [(a, b) for a, b in merge_spans(rows, min_break) if b - a > limit]
        if runs:
            longest = max(b - a for a, b in runs)
            out.append(Finding(trainee_id, "no_break", round(min(1.0, longest / (2 * limit)), 3), {
                "longest_hours": round(longest / 3600, 2),
                "runs": [{"from": a, "to": b, "hours": round((b - a) / 3600, 2)} for a, b in runs]}))
    return out


def identical_answers(attempts, min_common=5, min_share=0.9, min_same_wrong=2, max_time_diff=5.0):
    """Pairs of exam attempts in one class answered alike (identical wrong answers give copying away) or in
    lockstep (the same order, at the same times from the start)."""
    by_class = defaultdict(list)
    for a in attempts:
        by_class[a.class_id].append(a)
    out = []
    for class_id, rows in sorted(by_class.items()):
        rows.sort(key=lambda a: a.attempt_id)
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if a.trainee_id == b.trainee_id:
                    continue
                common = sorted(set(a.answers) & set(b.answers))
                if len(common) < min_common:
                    continue
                same = [q for q in common if a.answers[q].content == b.answers[q].content]
                same_wrong = [q for q in same if not a.answers[q].correct]
                alike = len(same) / len(common) >= min_share and len(same_wrong) >= min_same_wrong
                order_a = sorted(common, key=lambda q: (a.answers[q].ts, q))
                order_b = sorted(common, key=lambda q: (b.answers[q].ts, q))
                diff = statistics.median(abs((a.answers[q].ts - a.started_ts) - (b.answers[q].ts - b.started_ts))
                                         for q in common)
                lockstep = order_a == order_b and diff <= max_time_diff
                if not (alike or lockstep):
                    continue
                strength = 1.0 if alike and lockstep else 0.7 if alike else 0.5
                shared = {"class_id": class_id, "common": len(common), "same": len(same), "same_wrong": len(same_wrong),
                          "same_order": order_a == order_b, "median_time_diff": round(diff, 1),
                          "answers_alike": alike, "lockstep": lockstep}
                out.append(Finding(a.trainee_id, "identical_answers", strength, {
                    **shared, "attempt_id": a.attempt_id, "other_attempt_id": b.attempt_id, "other_trainee_id": b.trainee_id}))
                out.append(Finding(b.trainee_id, "identical_answers", strength, {
                    **shared, "attempt_id": b.attempt_id, "other_attempt_id": a.attempt_id, "other_trainee_id": a.trainee_id}))
    return out


def repeated_trade(enrolments):
    """The same person on the rosters of several classes of one occupation (工种)."""
    groups = defaultdict(dict)
    for e in enrolments:
        occupation = normalize_occupation(e.occupation)
        if occupation:
            groups[(e.trainee_id, occupation)][e.class_id] = e
    out = []
    for (trainee_id, occupation), classes in sorted(groups.items()):
        if len(classes) < 2:
            continue
        rows = sorted(classes.values(), key=lambda e: (e.start_date or "", e.class_id))
        out.append(Finding(trainee_id, "repeated_trade", 1.0, {
            "occupation": rows[0].occupation.strip(), "institutions": len({e.institution_id for e in rows}),
            "classes": [{"class_id": e.class_id, "institution_id": e.institution_id, "start_date": e.start_date}
                        for e in rows]}))
    return out


def detect(sessions=(), checks=(), flags=(), attempts=(), enrolments=()):
    """Every detector over the facts given."""
    return (automation_signs(sessions) + regular_timing(sessions) + shared_devices(sessions) + face_flags(flags)
            + photo_failures(checks) + night_study(sessions) + no_break(sessions) + identical_answers(attempts)
            + repeated_trade(enrolments))


# ---------------------------------------------------------------------------------------------------------------------
# Risk scores


def level(score):
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low" if score > 0 else "none"


def trainee_risks(findings):
    """trainee id -> {"score", "level", "signs": [{"sign", "label", "weight", "strength", "points", "evidence"}]}."""
    per = defaultdict(dict)
    for f in findings:
        sign = per[f.trainee_id].setdefault(f.sign, {"sign": f.sign, "label": SIGNS[f.sign].label,
                                                    "weight": SIGNS[f.sign].weight, "strength": 0.0, "evidence": []})
        sign["strength"] = max(sign["strength"], f.strength)
        sign["evidence"].append(f.evidence)
    out = {}
    for trainee_id, signs in per.items():
        rows = []
        for sign in signs.values():
            sign["points"] = round(sign["weight"] * sign["strength"], 1)
            rows.append(sign)
        rows.sort(key=lambda x: (-x["points"], x["sign"]))
        score = min(100, round(sum(x["points"] for x in rows)))
        out[trainee_id] = {"trainee_id": trainee_id, "score": score, "level": level(score), "signs": rows}
    return out


def class_score(trainee_scores):
    """A class's risk from its trainees' scores (0 for those without findings)."""
    scores = list(trainee_scores)
    if not scores:
        return 0
    share = sum(1 for x in scores if x >= MEDIUM) / len(scores)
    return min(100, round(0.5 * max(scores) + 50 * share))
