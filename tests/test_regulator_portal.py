"""The regulator's portal: search, traces, random sampling, anomalies and exports, with their access rules.

Learning data is made with the session services and explicit server times (as tests/test_sessions_api.py does):
the same code path as the API, so the heartbeats, their decisions, the seals and the ledger are the real ones.
"""
import hashlib
import io
import json
import random
import re

import openpyxl
import pytest
from sqlalchemy import select, text

from models import (
    Chapter, ClassCourse, Course, Enrollment, Institution, LearningSession, LedgerEntry, SamplingDraw, TrainingClass, User,
)
from tests.conftest import make_id_number
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.learning import sessions
from tracker.regulator import evidence, sampling
from tracker.regulator.trace import stretches, study_by_hour

T0 = 1_800_000_000.0  # 2027-01-15 16:00 China Standard Time
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"


def account(demo, role, n=0):
    return [a for a in demo["accounts"] if a["role"] == role][n]


@pytest.fixture(autouse=True)
def quiet_checks(app, demo):
    """Crediting without photo checks or attention prompts (tests/test_checks.py covers those)."""
    app.config["TRACKER_ATTENTION_MEAN"] = 0
    with app.app_context():
        with db.transaction() as s:
            s.execute(text("UPDATE classes SET photo_checks = false"))


@pytest.fixture
def outsiders(app):
    """Staff of an institution in Beijing and Beijing's regulator: neither may see the demo's trainees."""
    with app.app_context():
        with db.transaction() as s:
            inst = Institution(name="北京另一所职业技能培训学校", region_code="110105")
            s.add(inst)
            s.flush()
            create_user(s, role="staff", name="赵老师", password="Other1234", phone="13700000001", institution_id=inst.id)
            create_user(s, role="regulator", name="北京科长", password="Other1234", phone="13700000002", region_code="110000")
            create_user(s, role="regulator", name="呼市科长", password="Other1234", phone="13700000003", region_code="150100")
    return {"staff": "13700000001", "regulator": "13700000002", "same_region": "13700000003"}


@pytest.fixture
def regulator(api, demo):
    return api(account(demo, "regulator")["username"])


@pytest.fixture
def staff(api, demo):
    return api(account(demo, "staff")["username"])


def web(app, username, password="Demo1234"):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def beat(seq, position, client_time, ua=CHROME, **flags):
    data = dict(seq=seq, position=position, rate=1.0, playing=True, visible=True, focused=True, client_time=client_time,
                env={"ua": ua, "webdriver": False, "screen": "1920x1080", "tz": "Asia/Shanghai"})
    data.update(flags)
    return data


def study(app, user_id, chapter_id, start, times, address, ua=CHROME, paused=(), end=True):
    """One session from `start` with heartbeats at the given server times (position follows the clock, never ahead)."""
    with app.app_context():
        with db.transaction() as s:
            sess = sessions.start_session(s, s.get(User, user_id), chapter_id, address=address, user_agent=ua, now=start)
            sid = sess.id
        position = 0.0
        last = start
        for seq, ts in enumerate(times, 1):
            playing = seq not in paused
            if playing and seq > 1:
                position += ts - last
            last = ts
            with db.transaction() as s:
                sess = sessions.lock_session(s, sid, user_id)
                sessions.record_heartbeat(s, sess, sessions.parse_heartbeat(
                    beat(seq, round(position, 3), ts + 0.25, ua, playing=playing)), now=ts)
        if end:
            with db.transaction() as s:
                sessions.end_session(s, s.get(LearningSession, sid), "closed", now=last + 1)
    return sid


def new_class(app, demo, name, occupation="电工（四级）", trainees=4, seconds=3600):
    """A class of the demo institution with one long chapter and new trainees on its roster."""
    with app.app_context():
        with db.transaction() as s:
            inst_id = demo["classes"][0]["institution_id"]
            course = Course(institution_id=inst_id, title=name + "课程")
            cls = TrainingClass(institution_id=inst_id, name=name, occupation=occupation, total_hours=100, online_hours=40,
                                photo_checks=False)
            s.add_all([course, cls])
            s.flush()
            ch = Chapter(course_id=course.id, ordinal=1, title="长章节", video_file="x.webm", seconds=seconds)
            s.add_all([ch, ClassCourse(class_id=cls.id, course_id=course.id)])
            s.flush()
            ids = []
            rnd = random.Random(name)
            for i in range(trainees):
                u = create_user(s, role="trainee", name=f"{name}学员{i + 1}", password="Passw0rd1",
                                id_number=make_id_number(rnd), category="企业职工")
                s.add(Enrollment(class_id=cls.id, trainee_id=u.id))
                ids.append(u.id)
            return {"class_id": cls.id, "chapter_id": ch.id, "trainees": ids}


# --- pure parts of the trace ---------------------------------------------------------------------------------------


def test_stretches_group_consecutive_decisions():
    beats = [(1, 100.0, 0.0, 0.0, "baseline"), (2, 115.0, 15.0, 15.0, ""), (3, 130.0, 30.0, 14.0, "clock_budget"),
             (4, 145.0, 30.0, 0.0, "not_playing"), (5, 160.0, 30.0, 0.0, "not_playing"), (6, 175.0, 30.0, 0.0, "hidden,not_playing"),
             (7, 190.0, 45.0, 15.0, "")]
    out = stretches(beats)
    assert [(x["first_seq"], x["last_seq"], x["credited"], x["reasons"]) for x in out] == [
        (1, 1, False, ["baseline"]), (2, 3, True, ["clock_budget"]), (4, 5, False, ["not_playing"]),
        (6, 6, False, ["hidden", "not_playing"]), (7, 7, True, [])]
    assert out[1]["from_ts"] == 100.0 and out[1]["to_ts"] == 130.0 and out[1]["credited_seconds"] == 29.0
    assert out[2]["labels"] == ["视频未播放"] and out[3]["labels"] == ["页面不可见", "视频未播放"]
    assert stretches([]) == []


def test_study_by_hour_splits_across_hours_in_cst():
    # 2027-01-15 16:50 to 17:10 CST
    grid = study_by_hour([(T0 + 50 * 60, T0 + 70 * 60)])
    assert grid["days"] == [{"day": "2027-01-15", "hours": [0] * 16 + [600, 600] + [0] * 6}]
    assert grid["totals"][16] == 600 and sum(grid["totals"]) == 1200


# --- sampling as a pure rule ----------------------------------------------------------------------------------------


def test_draw_follows_the_documented_rule():
    seed = "00112233445566778899aabbccddeeff"
    population = [12, 3, 7, 7, 40, 25]
    by_hand = sorted({3, 7, 12, 25, 40}, key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(), i))[:3]
    assert sampling.draw(seed, population, 3) == by_hand
    assert sampling.draw(seed, reversed(population), 3) == by_hand  # the order given does not matter
    assert sampling.draw(seed, population, 99) == sorted({3, 7, 12, 25, 40}, key=lambda i: sampling.draw_key(seed, i))
    assert sampling.draw(seed, range(1000), 5) != sampling.draw(seed + "0", range(1000), 5)
    assert sampling.population_sha256([12, 3, 7]) == hashlib.sha256(b"[3,7,12]").hexdigest()


# --- search and access ---------------------------------------------------------------------------------------------


def test_search_by_name_whole_id_and_last_digits_masked(regulator, demo):
    t = account(demo, "trainee")
    for q in (t["name"], t["id_number"], t["id_number"][-6:], t["id_number"].lower()):
        r = regulator.get("/regulator/trainees", query_string={"q": q})
        assert r.status_code == 200, r.get_json()
        found = r.get_json()["trainees"]
        assert [x["trainee_id"] for x in found] == [t["user_id"]], q
        assert found[0]["id_mask"] == t["id_number"][:6] + "********" + t["id_number"][-4:]
        assert found[0]["classes"][0]["class_id"] == demo["classes"][0]["class_id"]
        assert t["id_number"] not in json.dumps(r.get_json())
    r = regulator.get("/regulator/trainees", query_string={"q": "123"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "query_too_short"
    assert regulator.get("/regulator/trainees", query_string={"q": "无此人"}).get_json()["trainees"] == []


def test_search_is_limited_to_the_viewers_scope(api, demo, staff, outsiders):
    t = account(demo, "trainee")
    assert len(staff.get("/regulator/trainees", query_string={"q": t["name"]}).get_json()["trainees"]) == 1
    assert api(outsiders["same_region"], "Other1234").get("/regulator/trainees", query_string={"q": t["name"]}).get_json()["trainees"]
    for who in ("staff", "regulator"):
        r = api(outsiders[who], "Other1234").get("/regulator/trainees", query_string={"q": t["name"]})
        assert r.status_code == 200 and r.get_json()["trainees"] == []
    assert api(t["username"]).get("/regulator/trainees", query_string={"q": t["name"]}).status_code == 403
    assert api().get("/regulator/trainees", query_string={"q": t["name"]}).status_code == 401


def test_search_page(app, demo):
    t = account(demo, "trainee")
    page = web(app, account(demo, "regulator")["username"]).get("/regulator", query_string={"q": t["id_number"][-4:]})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and t["name"] in body and t["id_number"] not in body
    assert f"/regulator/trainees/{t['user_id']}" in body


def test_trace_access(app, api, demo, regulator, staff, outsiders):
    t = account(demo, "trainee")
    path = f"/regulator/trainees/{t['user_id']}/trace"
    assert regulator.get(path).status_code == 200 and staff.get(path).status_code == 200
    assert api(t["username"]).get(path).status_code == 403
    assert api(account(demo, "trainee", 1)["username"]).get(path).status_code == 403
    for who in ("staff", "regulator"):
        r = api(outsiders[who], "Other1234").get(path)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert regulator.get(f"/regulator/trainees/{account(demo, 'staff')['user_id']}/trace").status_code == 404  # not a trainee
    # the pages and exports follow the same rule
    for url in (f"/regulator/trainees/{t['user_id']}", f"/regulator/trainees/{t['user_id']}/trace.xlsx",
                f"/regulator/trainees/{t['user_id']}/trace.pdf",
                f"/regulator/classes/{demo['classes'][0]['class_id']}/archive.xlsx"):
        assert web(app, outsiders["staff"], "Other1234").get(url).status_code == 404, url
        assert web(app, outsiders["regulator"], "Other1234").get(url).status_code == 404, url
        assert web(app, t["username"]).get(url).status_code == 403, url


def test_trace_has_sessions_stretches_reasons_and_charts(app, demo, regulator):
    t = account(demo, "trainee")
    chapter = demo["classes"][0]["chapters"][1]["chapter_id"]  # 180 s
    times = [T0 + 15 * i for i in range(6)] + [T0 + 75 + 15 * i for i in range(1, 4)]
    sid = study(app, t["user_id"], chapter, T0 - 1, times, "192.0.2.10", paused=(4, 5))
    body = regulator.get(f"/regulator/trainees/{t['user_id']}/trace").get_json()
    [x] = body["sessions"]
    assert (x["session_id"], x["address"], x["user_agent"], x["end_reason"]) == (sid, "192.0.2.10", CHROME, "closed")
    assert x["end_reason_label"] == "正常结束" and x["heartbeats"] == 9 and x["env"]["screen"] == "1920x1080"
    decisions = [(st["first_seq"], st["last_seq"], st["credited"], st["reasons"]) for st in x["stretches"]]
    assert decisions[0] == (1, 1, False, ["baseline"])
    assert (2, 3, True) == decisions[1][:3]
    assert decisions[2] == (4, 5, False, ["not_playing"]) and x["stretches"][2]["labels"] == ["视频未播放"]
    assert decisions[3][2] is True and x["stretches"][3]["last_seq"] == 9
    assert body["daily"] == [{"day": "2027-01-15", "credited_seconds": pytest.approx(x["credited_seconds"], abs=0.2)}]
    assert sum(body["hours"]["days"][0]["hours"][16:17]) > 0 and body["hours"]["days"][0]["day"] == "2027-01-15"
    assert body["risk"]["score"] == 0 and body["trainee"]["id_mask"].count("*") == 8
    page = web(app, account(demo, "regulator")["username"]).get(f"/regulator/trainees/{t['user_id']}").get_data(as_text=True)
    assert "视频未播放" in page and "192.0.2.10" in page and 'id="trace-charts"' in page and "regulator.js" in page


# --- sampling --------------------------------------------------------------------------------------------------------


def test_draw_is_in_the_ledger_and_reproducible(app, demo, regulator):
    r = regulator.post("/regulator/samples", {"kind": "trainees", "n": 2})
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert len(d["selected"]) == 2 and d["population_size"] == 3 and d["region_code"] == "150100"
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.seq == d["ledger_seq"]))
        payload = json.loads(entry.payload)
        assert entry.kind == "sampling.draw" and entry.actor_id == account(demo, "regulator")["user_id"]
        # anyone with the population re-runs the draw from the ledger's seed alone
        population = [a["user_id"] for a in demo["accounts"] if a["role"] == "trainee"]
        assert payload["population_sha256"] == hashlib.sha256(json.dumps(sorted(population), separators=(",", ":")).encode()).hexdigest()
        assert sampling.draw(payload["seed"], population, payload["n"]) == payload["selected"] == d["selected"]
    detail = regulator.get(f"/regulator/samples/{d['draw_id']}").get_json()
    assert detail["verification"]["ok"] and sorted(detail["population"]) == sorted(population)
    assert [x["draw_id"] for x in regulator.get("/regulator/samples").get_json()["draws"]] == [d["draw_id"]]
    # a changed record no longer matches its ledger entry
    with app.app_context():
        with db.transaction() as s:
            row = s.get(SamplingDraw, d["draw_id"])
            row.selected = json.dumps(list(reversed(payload["selected"])))
    assert regulator.get(f"/regulator/samples/{d['draw_id']}").get_json()["verification"]["ok"] is False


def test_classes_are_drawn_too(regulator, demo):
    r = regulator.post("/regulator/samples", {"kind": "classes", "n": 5, "region_code": "150102"})
    assert r.status_code == 201 and r.get_json()["selected"] == [demo["classes"][0]["class_id"]]


@pytest.mark.parametrize("body,status,code", [
    ({"kind": "trainees", "n": 1, "region_code": "110000"}, 403, "outside_region"),
    ({"kind": "trainees", "n": 1, "region_code": "150000"}, 403, "outside_region"),  # the province is above it
    ({"kind": "trainees", "n": 0}, 400, "invalid_field"), ({"kind": "trainees", "n": "2"}, 400, "invalid_field"),
    ({"kind": "people", "n": 1}, 400, "invalid_field"), ({"kind": "trainees", "n": 1, "region_code": "15"}, 400, "invalid_field"),
    ({"kind": "trainees", "n": 1, "region_code": "150105"}, 409, "empty_population"),
])
def test_sampling_refusals(app, regulator, body, status, code):
    r = regulator.post("/regulator/samples", body)
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    with app.app_context():
        assert db.session.scalar(select(LedgerEntry.seq).where(LedgerEntry.kind == "sampling.draw")) is None


def test_only_regulators_sample(api, demo, staff, outsiders, regulator):
    assert staff.post("/regulator/samples", {"kind": "trainees", "n": 1}).status_code == 403
    assert api(account(demo, "trainee")["username"]).post("/regulator/samples", {"kind": "trainees", "n": 1}).status_code == 403
    d = regulator.post("/regulator/samples", {"kind": "trainees", "n": 1}).get_json()
    beijing = api(outsiders["regulator"], "Other1234")
    assert beijing.get(f"/regulator/samples/{d['draw_id']}").status_code == 404
    assert beijing.get("/regulator/samples").get_json()["draws"] == []
    assert staff.get(f"/regulator/samples/{d['draw_id']}").status_code == 403


def test_sampling_pages(app, demo):
    client = web(app, account(demo, "regulator")["username"])
    assert "抽查记录" in client.get("/regulator/samples").get_data(as_text=True)
    r = client.post("/regulator/samples", data={"kind": "trainees", "n": "2", "region_code": "150100"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(select(SamplingDraw))
    assert row.seed in page and f"/regulator/trainees/{json.loads(row.selected)[0]}" in page
    checked = client.get(r.headers["Location"] + "?verify=1").get_data(as_text=True)
    assert "核验通过" in checked and "✗" not in checked
    population = client.get(f"/regulator/samples/{row.id}/population.json").get_json()
    assert sampling.draw(population["seed"], population["population"], population["n"]) == population["selected"]
    refused = client.post("/regulator/samples", data={"kind": "trainees", "n": "2", "region_code": "110000"})
    assert refused.status_code == 403 and "只能在本辖区内抽查" in refused.get_data(as_text=True)
    assert web(app, account(demo, "staff")["username"]).get("/regulator/samples").status_code == 403


# --- anomalies: a brushing farm and an honest class -------------------------------------------------------------------


def test_a_brushing_farm_is_flagged_and_an_honest_class_is_not(app, demo, regulator, staff, outsiders, api):
    farm = new_class(app, demo, "刷课班")
    honest = new_class(app, demo, "认真班")
    # The farm: four accounts on one computer (one address, one browser) at once, heartbeats every 15.000 s.
    for i, uid in enumerate(farm["trainees"]):
        start = T0 + 3 * i
        study(app, uid, farm["chapter_id"], start, [start + 1 + 15 * k for k in range(60)], "10.8.0.23")
    # The honest class: own devices (two share an office address with different browsers), daytime, human timing
    # with a pause now and then, on different days.
    rnd = random.Random(7)
    for i, uid in enumerate(honest["trainees"]):
        start = T0 - 6 * 3600 + i * 86400 + rnd.uniform(0, 1800)  # from 10:00 CST, one trainee a day
        times, t = [], start
        for _ in range(60):
            t += 15 + rnd.uniform(-2.5, 6.0) + (rnd.random() < 0.1) * rnd.uniform(20, 90)
            times.append(t)
        address = "203.0.113.7" if i < 2 else f"198.51.100.{i}"
        study(app, uid, honest["chapter_id"], start, times, address, ua=CHROME.replace("126", str(120 + i)),
              paused=set(rnd.sample(range(2, 60), 4)))

    body = regulator.get("/regulator/anomalies", query_string={"days": 3660}).get_json()
    risks = {r["trainee_id"]: r for r in body["trainees"]}
    for uid in farm["trainees"]:
        r = risks[uid]
        assert r["level"] == "high" and r["score"] >= 60, r
        signs = {s["sign"]: s for s in r["signs"]}
        assert {"shared_device", "regular_timing"} <= set(signs)
        shared = signs["shared_device"]["evidence"][0]
        assert sorted(shared["data"]["accounts"]) == sorted(farm["trainees"]) and "10.8.0.23" in shared["text"]
        assert {o["trainee_id"] for o in shared["trainees"]} == set(farm["trainees"]) - {uid}
        assert signs["regular_timing"]["evidence"][0]["data"]["cv_server"] < 0.01
    for uid in honest["trainees"]:
        assert uid not in risks or risks[uid]["score"] < 30, risks.get(uid)
    classes = {c["class_id"]: c for c in body["classes"]}
    assert classes[farm["class_id"]]["level"] == "high" and classes[farm["class_id"]]["flagged"] == 4
    assert classes[honest["class_id"]]["score"] < 30
    assert [c["class_id"] for c in body["classes"]][0] == farm["class_id"]  # sorted by risk
    assert body["trainees"][0]["score"] >= body["trainees"][-1]["score"]
    assert {w["sign"] for w in body["weights"]} >= {"shared_device", "regular_timing"}

    # the trace of a farm account shows the same evidence, with links to the other accounts
    trace = regulator.get(f"/regulator/trainees/{farm['trainees'][0]}/trace").get_json()
    assert trace["risk"]["level"] == "high" and trace["risk"]["signs"][0]["sign"] == "shared_device"
    # staff of the institution see it too; staff elsewhere and trainees do not
    assert {r["trainee_id"] for r in staff.get("/regulator/anomalies?days=3660").get_json()["trainees"]} >= set(farm["trainees"])
    assert api(outsiders["staff"], "Other1234").get("/regulator/anomalies?days=3660").get_json()["trainees"] == []
    assert api(outsiders["regulator"], "Other1234").get("/regulator/anomalies?days=3660").get_json()["classes"] == []
    assert api(account(demo, "trainee")["username"]).get("/regulator/anomalies").status_code == 403

    page = web(app, account(demo, "regulator")["username"]).get("/regulator/anomalies?days=3660").get_data(as_text=True)
    assert "多个账号同时在同一设备学习" in page and f"/regulator/trainees/{farm['trainees'][0]}" in page
    assert page.index(f'data-trainee-id="{farm["trainees"][0]}"') < page.index('id="risky-classes"')


def test_anomaly_evidence_names_only_visible_trainees(app, demo, outsiders):
    """An account elsewhere sharing the device shows as an account outside the region, without its name."""
    farm = new_class(app, demo, "本地班", trainees=1)
    with app.app_context():
        with db.transaction() as s:
            inst = s.scalar(select(Institution).where(Institution.region_code == "110105"))
            course = Course(institution_id=inst.id, title="外地课程")
            cls = TrainingClass(institution_id=inst.id, name="外地班", occupation="焊工", photo_checks=False)
            s.add_all([course, cls])
            s.flush()
            ch = Chapter(course_id=course.id, ordinal=1, title="章", video_file="x.webm", seconds=3600)
            s.add_all([ch, ClassCourse(class_id=cls.id, course_id=course.id)])
            s.flush()
            other = create_user(s, role="trainee", name="外地学员", password="Passw0rd1", id_number=make_id_number(),
                                category="企业职工")
            s.add(Enrollment(class_id=cls.id, trainee_id=other.id))
            other_id, other_chapter = other.id, ch.id
    study(app, farm["trainees"][0], farm["chapter_id"], T0, [T0 + 15 * k for k in range(1, 30)], "10.9.9.9")
    study(app, other_id, other_chapter, T0 + 2, [T0 + 2 + 15 * k for k in range(1, 30)], "10.9.9.9")
    with app.app_context():
        regulator = db.session.get(User, account(demo, "regulator")["user_id"])
        risks, facts = evidence.assess(db.session, regulator)
        rows = evidence.readable(db.session, risks, facts["scope"], {demo["classes"][0]["institution_id"]})
    [row] = [r for r in rows if r["trainee_id"] == farm["trainees"][0]]
    shared = [s for s in row["signs"] if s["sign"] == "shared_device"][0]["evidence"][0]
    assert "辖区外学员" in shared["text"] and "外地学员" not in shared["text"]
    assert shared["trainees"] == [{"trainee_id": other_id, "name": "辖区外学员", "id_mask": shared["trainees"][0]["id_mask"],
                                   "visible": False}]
    assert other_id not in risks  # findings only about the region's own trainees


def sit_exam(app, demo, trainee_id, start, pace, copier):
    """The final exam through the assessment services (its own random paper); a copier gives the same wrong option
    (in the bank's terms) on every single-choice question, whatever order the options were shown in."""
    from models import ChapterProgress
    from tracker.assessment import services as assessment

    with app.app_context():
        with db.transaction() as s:
            for ch in demo["classes"][0]["chapters"]:
                s.merge(ChapterProgress(trainee_id=trainee_id, chapter_id=ch["chapter_id"], credited_seconds=ch["seconds"]))
        with db.transaction() as s:
            attempt = assessment.start_exam(s, s.get(User, trainee_id), s.get(TrainingClass, demo["classes"][0]["class_id"]),
                                            now=start)
            for n, (q, order) in enumerate(assessment.paper_questions(s, attempt), 1):
                if q.kind == "single":
                    answer = order.index((q.key + 1) % len(order) if copier else q.key)
                elif q.kind == "multiple":
                    answer = sorted(order.index(i) for i in q.key)
                else:
                    answer = q.key if q.kind == "truefalse" else q.key[0]
                assessment.record_answer(s, attempt, q.id, answer, now=start + pace * n)
            assessment.submit(s, attempt, now=start + pace * 12)
            return attempt.id


def test_copied_exam_answers_and_the_trace_of_answers_and_qa(app, demo, regulator, staff):
    from tracker.assessment import qa

    a, b, c = (account(demo, "trainee", i)["user_id"] for i in range(3))
    first = sit_exam(app, demo, a, T0, 20.0, copier=True)
    sit_exam(app, demo, b, T0 + 3600, 33.0, copier=True)  # an hour later, at its own pace, on its own paper
    sit_exam(app, demo, c, T0 + 600, 25.0, copier=False)
    with app.app_context():
        with db.transaction() as s:
            root = qa.ask(s, s.get(User, a), demo["classes"][0]["chapters"][0]["chapter_id"], "接地线应该怎么装？", now=T0 - 60)
            qa.reply(s, s.get(User, account(demo, "staff")["user_id"]), root, "先接接地端，后接导体端。", now=T0 - 30)
    body = regulator.get("/regulator/anomalies", query_string={"days": 3660}).get_json()
    risks = {r["trainee_id"]: r for r in body["trainees"]}
    assert set(risks) == {a, b}
    [sign] = risks[a]["signs"]
    e = sign["evidence"][0]["data"]
    assert sign["sign"] == "identical_answers" and e["other_trainee_id"] == b and e["answers_alike"] and not e["lockstep"]
    assert e["same_wrong"] >= 2 and e["same"] == e["common"] >= 9
    assert "相同的错误答案" in sign["evidence"][0]["text"]

    trace = staff.get(f"/regulator/trainees/{a}/trace").get_json()
    [exam] = trace["attempts"]
    assert exam["attempt_id"] == first and exam["kind_label"] == "结业考试" and exam["passed"] is not None
    assert len(exam["questions"]) == 10 and all(q["answer"] and q["key"] for q in exam["questions"])
    wrong = [q for q in exam["questions"] if not q["correct"]]
    assert wrong and all(q["type"] == "单选题" and q["answer"] != q["key"] for q in wrong)
    [thread] = trace["qa"]
    assert [(p["text"], p["by_trainee"]) for p in thread["posts"]] == [("接地线应该怎么装？", True), ("先接接地端，后接导体端。", False)]
    page = web(app, account(demo, "regulator")["username"]).get(f"/regulator/trainees/{a}").get_data(as_text=True)
    assert "先接接地端" in page and "结业考试" in page and "考试答案或答题时间雷同" in page


def test_faces_photo_checks_and_a_repeated_trade_through_the_database(app, demo, regulator, outsiders):
    """The proctoring feature's rows as it leaves them (a proxy flag, failed photo checks) are written directly here:
    producing them through face judging takes seconds a photo (tests/test_proctoring_api.py does that)."""
    from models import FaceFlag, LearningSession, SessionCheck

    a, b, c = (account(demo, "trainee", i)["user_id"] for i in range(3))
    with app.app_context():
        with db.transaction() as s:
            inst = s.scalar(select(Institution).where(Institution.region_code == "110105"))
            beijing = TrainingClass(institution_id=inst.id, name="北京电工班", occupation="电工（四级）", photo_checks=False)
            s.add(beijing)
            s.flush()
            s.add(Enrollment(class_id=beijing.id, trainee_id=a))  # the same ID number, the same trade, again
            s.add(FaceFlag(kind="proxy_suspected", trainee_id=b, other_trainee_id=c, distance=0.31))
            # Checks belong to the class of their session: one in the demo class, which the regulator inspects.
            sess = LearningSession(trainee_id=c, chapter_id=demo["classes"][0]["chapters"][0]["chapter_id"],
                                   class_id=demo["classes"][0]["class_id"], started_ts=T0, status="ended")
            s.add(sess)
            s.flush()
            for i, (status, reason) in enumerate([("passed", None), ("failed", "other_person"), ("failed", "other_person"),
                                                  ("missed", "deadline_missed")]):
                s.add(SessionCheck(trainee_id=c, session_id=sess.id, kind="photo_random", asked_ts=T0 + i * 600, deadline_ts=T0 + i * 600 + 60,
                                   answered_ts=T0 + i * 600 + 20, status=status, reason=reason))
    body = regulator.get("/regulator/anomalies", query_string={"days": 3660}).get_json()
    risks = {r["trainee_id"]: r for r in body["trainees"]}
    signs = {t: {s["sign"]: s for s in r["signs"]} for t, r in risks.items()}
    assert set(signs[a]) == {"repeated_trade"} and risks[a]["level"] == "low"
    trade = signs[a]["repeated_trade"]["evidence"][0]
    assert "电工（四级）" in trade["text"] and "其他机构的班期" in trade["text"] and "北京电工班" not in trade["text"]
    assert set(signs[b]) == {"shared_face"} and risks[b]["level"] == "medium"
    assert set(signs[c]) == {"shared_face", "photo_failures"} and risks[c]["level"] == "high"
    assert "2 次拍到的不是本人" in signs[c]["photo_failures"]["evidence"][0]["text"]
    assert [x["trainee_id"] for x in body["trainees"]] == [c, b, a]  # sorted by risk


# --- exports ---------------------------------------------------------------------------------------------------------


def has_embedded_chinese_font(data):
    """WenQuanYi Zen Hei as an embedded TrueType subset (its glyphs in a FontFile2 stream), not merely named."""
    return re.search(rb"/FontName /[A-Z]{6}\+WenQuanYiZenHei", data) is not None and b"/FontFile2" in data


def test_trace_exports_open_and_mask_ids(app, demo):
    t = account(demo, "trainee")
    study(app, t["user_id"], demo["classes"][0]["chapters"][0]["chapter_id"], T0, [T0 + 15 * k for k in range(1, 6)], "192.0.2.5")
    client = web(app, account(demo, "regulator")["username"])
    r = client.get(f"/regulator/trainees/{t['user_id']}/trace.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert {"学员概况", "学习会话", "计时片段", "拍照核验", "测验与考试", "异常线索", "每日学时"} <= set(wb.sheetnames)
    cells = [str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert t["id_number"] not in " ".join(cells) and t["id_number"][:6] + "********" + t["id_number"][-4:] in cells
    assert "192.0.2.5" in cells
    r = client.get(f"/regulator/trainees/{t['user_id']}/trace.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF") and has_embedded_chinese_font(r.data)


def test_class_archive_exports(app, demo):
    cls = demo["classes"][0]
    t = account(demo, "trainee")
    study(app, t["user_id"], cls["chapters"][0]["chapter_id"], T0, [T0 + 15 * k for k in range(1, 6)], "192.0.2.5")
    for role in ("regulator", "staff"):
        client = web(app, account(demo, role)["username"])
        r = client.get(f"/regulator/classes/{cls['class_id']}/archive.xlsx")
        assert r.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(r.data))
        assert {"班期信息", "教学计划", "花名册", "学时汇总", "考勤明细", "拍照核验", "结业考试", "培训证明"} <= set(wb.sheetnames)
        roster = list(wb["花名册"].iter_rows(min_row=3, values_only=True))
        assert len(roster) == 3 and all("********" in row[2] for row in roster)
        assert all(a["id_number"] not in str(row) for row in roster for a in demo["accounts"] if a["id_number"])
        hours = {row[0]: row for row in wb["学时汇总"].iter_rows(min_row=3, values_only=True)}
        assert hours[t["name"]][2] == 1.0  # 60 s credited: four stretches of 15 s after the baseline
        plan = list(wb["教学计划"].iter_rows(min_row=3, values_only=True))
        assert [row[2] for row in plan] == [ch["title"] for ch in cls["chapters"]]
        pdf = client.get(f"/regulator/classes/{cls['class_id']}/archive.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and has_embedded_chinese_font(pdf.data)


def test_openapi_documents_the_portal(api):
    paths = api().get("/openapi.json").get_json()["paths"]
    assert {"/regulator/trainees", "/regulator/trainees/{trainee_id}/trace", "/regulator/anomalies",
            "/regulator/samples", "/regulator/samples/{draw_id}"} <= set(paths)
