"""The anomaly detectors and risk scores as pure functions, on hand-built facts (no database)."""
import random
from datetime import datetime

import pytest

from tracker.regulator import anomalies as a
from tracker.regulator.anomalies import (
    CST, Answer, AttemptFacts, CheckFacts, EnrolmentFacts, FlagFacts, SessionFacts,
)

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def at(text):
    """Epoch seconds of a China Standard Time wall-clock time, e.g. at("2027-01-15 10:00")."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST).timestamp()


def session(sid, trainee, start, beats, interval=15.0, jitter=0.0, address="", ua=CHROME, rnd=None, **kw):
    rnd = rnd or random.Random(sid)
    times = [start]
    for _ in range(beats - 1):
        times.append(times[-1] + interval + (rnd.uniform(-jitter, jitter) if jitter else 0.0))
    return SessionFacts(sid, trainee, kw.pop("class_id", 1), start, times[-1], address, ua, tuple(times),
                        tuple(t + 0.3 for t in times), **kw)


def signs(findings, trainee=None):
    return sorted({f.sign for f in findings if trainee is None or f.trainee_id == trainee})


# --- helpers -------------------------------------------------------------------------------------------------------


def test_coefficient_of_variation():
    assert a.coefficient_of_variation([15, 15, 15]) == 0
    assert a.coefficient_of_variation([10, 20]) == pytest.approx(1 / 3)
    assert a.coefficient_of_variation([5]) is None and a.coefficient_of_variation([0, 0]) is None


def test_active_spans_and_merge():
    assert a.active_spans([0, 15, 30, 500, 515], max_gap=120) == [(0, 15), (15, 30), (500, 515)]
    assert a.merge_spans([(0, 10), (15, 20), (700, 800)], join_gap=600) == [(0, 20), (700, 800)]


# --- automation --------------------------------------------------------------------------------------------------------


def test_webdriver_and_headless_user_agents():
    robot = session(1, 10, at("2027-01-15 10:00"), 5, webdriver_beats=5,
                    ua="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36")
    script = session(2, 11, at("2027-01-15 10:00"), 5, ua="python-requests/2.32.3")
    person = session(3, 12, at("2027-01-15 10:00"), 5, env_agents=(CHROME,))
    found = a.automation_signs([robot, script, person])
    assert signs(found, 10) == ["headless", "webdriver"]
    assert [(f.sign, f.strength, f.evidence["scripted"]) for f in found if f.trainee_id == 11] == [("headless", 0.5, True)]
    assert signs(found, 12) == []


def test_headless_seen_only_in_the_page_env():
    s = session(1, 10, at("2027-01-15 10:00"), 3, ua=CHROME, env_agents=("Mozilla/5.0 HeadlessChrome/120.0",))
    assert signs(a.automation_signs([s])) == ["headless"]


def test_machine_regular_timing_is_found_and_human_timing_is_not():
    robot = session(1, 10, at("2027-01-15 10:00"), 40, interval=15.0, jitter=0.02)
    person = session(2, 11, at("2027-01-15 10:00"), 40, interval=15.0, jitter=6.0)
    short = session(3, 12, at("2027-01-15 10:00"), 10, interval=15.0)  # too few intervals to say
    found = a.regular_timing([robot, person, short])
    assert [f.trainee_id for f in found] == [10]
    assert found[0].evidence["cv_server"] < 0.01 and found[0].evidence["intervals"] == 39


def test_regular_client_clock_counts_even_with_network_jitter_at_the_server():
    rnd = random.Random(5)
    start = at("2027-01-15 10:00")
    client = tuple(start + 15.0 * i for i in range(30))
    server = tuple(t + rnd.uniform(0, 3) for t in client)
    s = SessionFacts(1, 10, 1, server[0], server[-1], "", CHROME, server, client)
    [f] = a.regular_timing([s])
    assert f.evidence["cv_client"] == 0 and f.evidence["cv_server"] > 0.01


# --- shared devices -----------------------------------------------------------------------------------------------------


def test_accounts_learning_at_once_on_one_device():
    t0 = at("2027-01-15 10:00")
    farm = [session(i, 100 + i, t0 + i, 60, address="10.0.0.9", ua=CHROME) for i in range(4)]
    found = a.shared_devices(farm)
    assert signs(found) == ["shared_device"]
    assert sorted(f.trainee_id for f in found) == [100, 101, 102, 103]
    assert found[0].evidence["accounts"] == [100, 101, 102, 103] and found[0].evidence["overlap_seconds"] > 60


def test_one_device_used_by_turns_is_not_a_farm():
    t0 = at("2027-01-15 10:00")
    turns = [session(1, 1, t0, 20, address="10.0.0.9"), session(2, 2, t0 + 400, 20, address="10.0.0.9")]
    assert a.shared_devices(turns) == []


def test_different_devices_at_one_address_need_three_accounts():
    t0 = at("2027-01-15 10:00")
    office = [session(i, i, t0, 30, address="203.0.113.5", ua=f"{CHROME} v{i}") for i in range(1, 3)]
    assert a.shared_devices(office) == []
    office.append(session(3, 3, t0, 30, address="203.0.113.5", ua=CHROME + " v3"))
    found = a.shared_devices(office)
    assert signs(found) == ["shared_address"] and len(found) == 3


def test_one_trainee_with_two_sessions_is_not_shared():
    t0 = at("2027-01-15 10:00")
    assert a.shared_devices([session(1, 7, t0, 30, address="x"), session(2, 7, t0 + 5, 30, address="x")]) == []


# --- faces and photo checks ---------------------------------------------------------------------------------------------


def test_face_flags_mark_both_accounts():
    found = a.face_flags([FlagFacts(1, "proxy_suspected", 20, 21, 0.31), FlagFacts(2, "face_changed", 22, 22, 0.7)])
    assert [(f.trainee_id, f.sign, f.evidence.get("role")) for f in found] == [
        (20, "shared_face", "tried"), (21, "shared_face", "enrolled"), (22, "face_changed", None)]


def test_photo_check_failure_rate():
    def checks(trainee, statuses, reason=None):
        return [CheckFacts(trainee * 100 + i, trainee, "photo_random", st, reason if st == "failed" else None)
                for i, st in enumerate(statuses)]

    rows = (checks(1, ["passed"] * 7 + ["missed"])  # 12 %: a shaky phone link
            + checks(2, ["passed", "failed", "missed", "failed"])  # 75 %
            + checks(3, ["passed", "failed", "failed"] + ["passed"] * 7, "other_person")  # two others in front
            + checks(4, ["failed", "failed"])  # too few to judge a rate
            + [CheckFacts(999, 5, "attention", "missed")])  # not a photo
    found = {f.trainee_id: f for f in a.photo_failures(rows)}
    assert sorted(found) == [2, 3]
    assert found[2].strength == 1.0 and found[2].evidence["rate"] == 0.75 and found[2].evidence["missed"] == 1
    assert found[3].strength == 1.0 and found[3].evidence["other_person"] == 2


# --- hours ---------------------------------------------------------------------------------------------------------


def test_study_between_midnight_and_five_cst():
    night = session(1, 1, at("2027-01-15 23:30"), 240, interval=15.0)  # 23:30 to 00:30 (CST)
    day = session(2, 2, at("2027-01-15 14:00"), 240, interval=15.0)
    found = a.night_study([night, day])
    assert [f.trainee_id for f in found] == [1]
    assert found[0].evidence["nights"] == [{"date": "2027-01-16", "minutes": pytest.approx(29.75, abs=0.3)}]


def test_hours_without_a_break():
    t0 = at("2027-01-15 08:00")
    # five one-hour sessions with 5-minute pauses: one run of about 5 h 20 min
    marathon = [session(i, 1, t0 + i * 65 * 60, 241, interval=15.0) for i in range(5)]
    # the same hours with 15-minute breaks
    rested = [session(10 + i, 2, t0 + i * 75 * 60, 241, interval=15.0) for i in range(5)]
    found = a.no_break(marathon + rested)
    assert [f.trainee_id for f in found] == [1]
    assert 5.2 < found[0].evidence["longest_hours"] < 5.4 and found[0].strength == pytest.approx(0.67, abs=0.01)


# --- exams ---------------------------------------------------------------------------------------------------------


def exam(attempt, trainee, answers, start=1000.0, class_id=1):
    """answers: [(question id, content, correct, seconds from start)]."""
    return AttemptFacts(attempt, trainee, class_id, start,
                        {q: Answer(content, correct, start + t) for q, content, correct, t in answers})


def test_identical_wrong_answers_are_found():
    key = [(q, "0", True, q * 30) for q in range(1, 9)]
    copied = [(q, "0", True, q * 30) for q in range(1, 7)] + [(7, "2", False, 300), (8, "3", False, 330)]
    a1 = exam(1, 10, copied, start=1000)
    a2 = exam(2, 11, [(q, c, ok, t + 7 * (q % 3)) for q, c, ok, t in reversed(copied)], start=5000)
    honest = exam(3, 12, [(q, c, ok, t * 1.6) for q, c, ok, t in key[:6]] + [(7, "1", False, 200), (8, "0", True, 260)],
                  start=9000)
    found = a.identical_answers([a1, a2, honest])
    assert sorted((f.trainee_id, f.evidence["other_trainee_id"]) for f in found) == [(10, 11), (11, 10)]
    e = found[0].evidence
    assert (e["common"], e["same"], e["same_wrong"], e["answers_alike"]) == (8, 8, 2, True)


def test_all_correct_answers_alike_are_not_copying():
    key = [(q, "0", True, q * 30) for q in range(1, 9)]
    found = a.identical_answers([exam(1, 10, key, start=0), exam(2, 11, [(q, c, ok, t * 1.7) for q, c, ok, t in key],
                                                                     start=100)])
    assert found == []


def test_answers_in_lockstep():
    one = [(q, str(q % 4), q % 2 == 0, q * 20) for q in range(1, 7)]
    other = [(q, str((q + 1) % 4), q % 3 == 0, q * 20 + 1.5) for q in range(1, 7)]
    found = a.identical_answers([exam(1, 10, one, start=0), exam(2, 11, other, start=30)])
    assert len(found) == 2 and found[0].evidence["lockstep"] and not found[0].evidence["answers_alike"]
    assert found[0].strength == 0.5


def test_other_classes_do_not_compare():
    wrong = [(q, "9", False, q * 20) for q in range(1, 7)]
    assert a.identical_answers([exam(1, 10, wrong, class_id=1), exam(2, 11, wrong, class_id=2)]) == []


# --- the same trade again ------------------------------------------------------------------------------------------------


def test_the_same_person_repeating_the_same_trade():
    rows = [EnrolmentFacts(1, 10, 100, "电工（四级）", "2026-03-01"), EnrolmentFacts(1, 11, 200, "电工 （四级）", "2026-11-01"),
            EnrolmentFacts(1, 12, 100, "焊工（五级）", "2026-05-01"), EnrolmentFacts(2, 10, 100, "电工（四级）", "2026-03-01"),
            EnrolmentFacts(3, 13, 100, "", None), EnrolmentFacts(3, 14, 100, "", None)]
    [f] = a.repeated_trade(rows)
    assert f.trainee_id == 1 and f.evidence["institutions"] == 2
    assert [c["class_id"] for c in f.evidence["classes"]] == [10, 11]


# --- scores --------------------------------------------------------------------------------------------------------


def test_weights_table_is_the_one_place_for_weights():
    assert set(a.SIGNS) >= {"webdriver", "headless", "regular_timing", "shared_device", "shared_face", "photo_failures",
                            "night_study", "no_break", "identical_answers", "repeated_trade"}
    weak = ["regular_timing", "night_study", "no_break", "shared_address"]
    assert all(a.SIGNS[k].weight < a.MEDIUM for k in weak)  # none of the weak signs reaches medium alone


def test_risk_is_a_weighted_sum_counting_each_sign_once_at_its_strongest():
    found = [a.Finding(1, "regular_timing", 1.0, {"session_id": 1}), a.Finding(1, "regular_timing", 1.0, {"session_id": 2}),
             a.Finding(1, "shared_device", 1.0, {}), a.Finding(1, "photo_failures", 0.5, {}),
             a.Finding(2, "night_study", 0.4, {})]
    risks = a.trainee_risks(found)
    assert risks[1]["score"] == round(25 + 35 + 12.5) and risks[1]["level"] == "high"
    assert [s["sign"] for s in risks[1]["signs"]] == ["shared_device", "regular_timing", "photo_failures"]
    assert len(risks[1]["signs"][1]["evidence"]) == 2
    assert risks[2]["score"] == 6 and risks[2]["level"] == "low"


def test_score_is_capped_at_100():
    found = [a.Finding(1, sign, 1.0, {}) for sign in a.SIGNS]
    assert a.trainee_risks(found)[1]["score"] == 100


def test_class_score_blends_the_worst_trainee_and_how_widespread():
    assert a.class_score([]) == 0 and a.class_score([0, 0, 0]) == 0
    assert a.class_score([100, 0, 0, 0]) == round(50 + 50 * 0.25)
    assert a.class_score([90, 90, 90, 90]) == 95
    assert a.class_score([25, 0]) == 12  # one weak sign: low


def test_detect_runs_every_detector():
    t0 = at("2027-01-15 02:00")
    farm = [session(i, i, t0 + i, 300, interval=15.0, address="10.0.0.9", webdriver_beats=300) for i in range(1, 4)]
    risks = a.trainee_risks(a.detect(sessions=farm))
    assert {r["level"] for r in risks.values()} == {"high"}
    assert {s["sign"] for s in risks[1]["signs"]} == {"webdriver", "regular_timing", "shared_device", "night_study"}


def test_overlap_is_counted_once_per_account():
    t0 = at("2027-01-15 10:00")
    farm = [session(i, 100 + i, t0, 61, address="10.0.0.9") for i in range(4)]  # four accounts, 15 minutes each
    found = a.shared_devices(farm)
    assert {f.evidence["overlap_seconds"] for f in found} == {900.0}


@pytest.mark.parametrize("text", ["2027-01-15 00:00", "2027-01-15 07:59", "2027-01-15 08:00", "2027-01-15 23:59",
                                  "1999-12-31 16:00"])
def test_cst_day_start_is_the_local_midnight(text):
    ts = at(text) + 30
    midnight = datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=CST).timestamp()
    assert a.cst_day_start(ts) == midnight and a.cst_day_start(midnight) == midnight
