"""Sessions and heartbeats through the HTTP API and the service functions (explicit server times)."""
import json
import time

import pytest
from sqlalchemy import select, text

from models import ClassCourse, Course, Chapter, Enrollment, Heartbeat, LearningSession, TrainingClass, User
from tracker.db import unguard_sql
from tracker.extensions import db
from tracker.learning import checks, sessions
from tracker.ledger.services import verify

T0 = 1_800_000_000.0


def beat(seq, position, **flags):
    data = dict(seq=seq, position=position, rate=1.0, playing=True, visible=True, focused=True,
                client_time=time.time(), env={"ua": "pytest"})
    data.update(flags)
    return data


@pytest.fixture(autouse=True)
def no_photo_checks(app, demo):
    """These tests are about crediting and prompts; photo checks are tested in test_checks.py. Prompts
    come only where a test asks for them (they are random otherwise)."""
    app.config["TRACKER_ATTENTION_MEAN"] = 0
    with app.app_context():
        with db.transaction() as s:
            s.execute(text("UPDATE classes SET photo_checks = false"))


@pytest.fixture
def trainee(api, demo):
    return api(demo["accounts"][3]["username"])


@pytest.fixture
def chapter_id(demo):
    return demo["classes"][0]["chapters"][0]["chapter_id"]


def test_session_start_answers_the_contract(trainee, chapter_id):
    r = trainee.post("/sessions", {"chapter_id": chapter_id})
    assert r.status_code == 201
    body = r.get_json()
    assert {"session_id", "heartbeat_interval", "check"} <= set(body)
    assert body["heartbeat_interval"] == 15 and body["resume_position"] == 0


@pytest.mark.parametrize("body,code", [({}, "missing_field"), ({"chapter_id": "1"}, "invalid_field"),
                                       ({"chapter_id": 99999}, "not_enrolled")])
def test_session_start_refuses_bad_chapters(trainee, body, code):
    r = trainee.post("/sessions", body)
    assert 400 <= r.status_code < 500
    assert r.get_json()["error"]["code"] == code


def test_only_trainees_start_sessions(api, demo, chapter_id):
    staff = api(demo["accounts"][0]["username"])
    assert staff.post("/sessions", {"chapter_id": chapter_id}).status_code == 403
    assert api().post("/sessions", {"chapter_id": chapter_id}).status_code == 401


@pytest.mark.parametrize("field,value", [("seq", 0), ("seq", "1"), ("position", "x"), ("position", None),
                                         ("rate", True), ("playing", "yes"), ("env", [1]), ("env", {"x": "y" * 3000})])
def test_bad_heartbeats_are_refused_and_not_recorded(app, trainee, chapter_id, field, value):
    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    data = beat(1, 0.0)
    data[field] = value
    r = trainee.post(f"/sessions/{sid}/heartbeats", data)
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == field
    with app.app_context():
        assert db.session.scalar(select(Heartbeat.id).where(Heartbeat.session_id == sid)) is None


def test_malformed_heartbeat_json(trainee, chapter_id):
    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    r = trainee.client.post(f"/api/v1/sessions/{sid}/heartbeats", data="{not json", content_type="application/json",
                            headers={"Authorization": f"Bearer {trainee.token}"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"


def test_duplicate_heartbeat_gets_the_first_answer(trainee, chapter_id):
    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    first = trainee.post(f"/sessions/{sid}/heartbeats", beat(1, 0.0)).get_json()
    again = trainee.post(f"/sessions/{sid}/heartbeats", beat(1, 0.0)).get_json()
    assert first == again
    assert set(first) >= {"seq", "credited_seconds", "session_credited_seconds", "reasons", "check"}


def test_another_trainees_session_is_not_found(api, demo, trainee, chapter_id):
    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    other = api(demo["accounts"][4]["username"])
    assert other.post(f"/sessions/{sid}/heartbeats", beat(1, 0.0)).status_code == 404
    assert other.post(f"/sessions/{sid}/end").status_code == 404
    assert other.post(f"/sessions/{sid}/attention").status_code == 404


def test_record_access(api, demo, trainee, chapter_id, app):
    me = demo["accounts"][3]["user_id"]
    assert trainee.get(f"/trainees/{me}/record").status_code == 200
    assert trainee.get(f"/trainees/{demo['accounts'][4]['user_id']}/record").status_code == 404
    assert api(demo["accounts"][0]["username"]).get(f"/trainees/{me}/record").status_code == 200  # staff
    assert api(demo["accounts"][1]["username"]).get(f"/trainees/{me}/record").status_code == 200  # regulator
    with app.app_context():
        from tracker.accounts.services import create_user
        from models import Institution

        with db.transaction() as s:
            inst = Institution(name="另一所学校", region_code="110105")
            s.add(inst)
            s.flush()
            create_user(s, role="staff", name="外校", password="Other1234", phone="13700000001", institution_id=inst.id)
            create_user(s, role="regulator", name="外地", password="Other1234", phone="13700000002", region_code="110000")
    assert api("13700000001", "Other1234").get(f"/trainees/{me}/record").status_code == 404
    assert api("13700000002", "Other1234").get(f"/trainees/{me}/record").status_code == 404


def _service_session(app, demo, n=0, trainee=3, now=T0):
    with app.app_context():
        with db.transaction() as s:
            user = s.get(User, demo["accounts"][trainee]["user_id"])
            sess = sessions.start_session(s, user, demo["classes"][0]["chapters"][n]["chapter_id"], now=now)
            return sess.id, user.id


def _beats(app, sid, uid, beats):
    answers = []
    with app.app_context():
        for ts, data in beats:
            with db.transaction() as s:
                sess = sessions.lock_session(s, sid, uid)
                answers.append(sessions.record_heartbeat(s, sess, sessions.parse_heartbeat(data), now=ts))
    return answers


def test_honest_session_is_credited_and_sealed_and_verifies(app, demo):
    sid, uid = _service_session(app, demo)
    answers = _beats(app, sid, uid, [(T0 + i * 15, beat(i + 1, i * 15.0)) for i in range(25)])
    assert answers[-1]["chapter_credited_seconds"] == 150  # the chapter's length, no more
    with app.app_context():
        with db.transaction() as s:
            totals = sessions.end_session(s, s.get(LearningSession, sid), "closed", now=T0 + 400)
        assert totals["credited_seconds"] == 150
        with db.transaction() as s:
            assert verify(s)["first_bad_seq"] is None
            seals = s.execute(text("SELECT seq FROM ledger_entries WHERE kind = 'heartbeats.sealed'")).scalars().all()
        assert len(seals) == 2  # one batch of 20, the rest at the end


def test_a_changed_heartbeat_is_found_by_ledger_verify(app, demo, runner):
    sid, uid = _service_session(app, demo)
    _beats(app, sid, uid, [(T0 + i * 15, beat(i + 1, i * 15.0)) for i in range(5)])
    with app.app_context():
        with db.transaction() as s:
            sessions.end_session(s, s.get(LearningSession, sid), "closed", now=T0 + 100)
        dialect = db.engine.dialect.name
        with db.engine.begin() as conn:
            for stmt in unguard_sql(dialect, "heartbeats"):
                conn.execute(text(stmt))
            conn.execute(text("UPDATE heartbeats SET credited_seconds = 60 WHERE seq = 3"))
    r = runner.invoke(args=["ledger", "verify"])
    assert r.exit_code != 0
    assert "heartbeats changed" in r.output


def test_heartbeat_log_refuses_update_and_delete(app, demo):
    sid, uid = _service_session(app, demo)
    _beats(app, sid, uid, [(T0, beat(1, 0.0))])
    with app.app_context():
        for stmt in ("UPDATE heartbeats SET credited_seconds = 99", "DELETE FROM heartbeats"):
            with pytest.raises(Exception, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(stmt))


def test_daily_cap_counts_every_class_of_the_day(app, demo):
    """Eight class hours a day across all classes and institutions, on the server's clock."""
    app.config.update(TRACKER_ATTENTION_MEAN=0, TRACKER_HEARTBEAT_INTERVAL=60)
    uid = demo["accounts"][3]["user_id"]
    ids = []
    with app.app_context():
        with db.transaction() as s:
            inst_id = demo["classes"][0]["institution_id"]
            for name in ("A班", "B班"):
                course = Course(institution_id=inst_id, title=name + "长课程")
                cls = TrainingClass(institution_id=inst_id, name=name, total_hours=100, online_hours=40, photo_checks=False)
                s.add_all([course, cls])
                s.flush()
                ch = Chapter(course_id=course.id, ordinal=1, title="长章节", video_file="x.webm", seconds=6 * 3600)
                s.add_all([ch, ClassCourse(class_id=cls.id, course_id=course.id), Enrollment(class_id=cls.id, trainee_id=uid)])
                s.flush()
                ids.append(ch.id)
    # from 10:00 Beijing time: five hours in class A, then more in class B the same day
    start = 1_800_000_000.0 - (1_800_000_000.0 % 86400) + 2 * 3600
    total = 0.0
    for chapter_id in ids:
        with app.app_context():
            with db.transaction() as s:
                sess = sessions.start_session(s, s.get(User, uid), chapter_id, now=start)
                sid = sess.id
        beats = [(start + i * 60, beat(i + 1, i * 60.0)) for i in range(5 * 60 + 1)]
        answers = _beats(app, sid, uid, beats)
        total += answers[-1]["session_credited_seconds"]
        start += 5 * 3600 + 60
    assert total == pytest.approx(8 * 45 * 60)
    assert answers[-1]["day_remaining_seconds"] == 0
    assert "daily_cap" in answers[-1]["reasons"] or answers[-1]["credited_seconds"] == 0


def test_missed_attention_prompt_stops_credit_until_answered(app, demo):
    app.config["TRACKER_ATTENTION_MEAN"] = 1  # the first prompt comes after the minimum of 60 s
    sid, uid = _service_session(app, demo, n=1)
    answers = _beats(app, sid, uid, [(T0 + i * 15, beat(i + 1, i * 15.0)) for i in range(6)])
    assert answers[4]["attention"] is not None  # asked at 60 s, deadline 60 s later
    assert answers[5]["credited_seconds"] == 0 and "check_blocked" in answers[5]["reasons"]  # held while pending
    later = _beats(app, sid, uid, [(T0 + 90, beat(7, 90.0)), (T0 + 135, beat(8, 135.0))])
    assert all(a["credited_seconds"] == 0 for a in later)
    assert {"check_blocked", "beyond_furthest"} & set(later[-1]["reasons"])
    credited_when_blocked = later[-1]["session_credited_seconds"]
    assert credited_when_blocked <= 60 + 1e-6  # nothing after the prompt was asked
    with app.app_context():
        with db.transaction() as s:
            result = checks.answer_attention(s, s.get(LearningSession, sid), T0 + 140)
    assert result["late"] is True
    # the player stopped at the deadline; told the verified point, it seeks back there and plays on
    assert later[-1]["furthest"] == pytest.approx(60)
    after = _beats(app, sid, uid, [(T0 + 155, beat(9, 60.0, playing=False)), (T0 + 170, beat(10, 75.0))])
    assert after[-1]["credited_seconds"] == pytest.approx(15)


def test_attention_answered_in_time_loses_nothing(app, demo):
    app.config["TRACKER_ATTENTION_MEAN"] = 1
    sid, uid = _service_session(app, demo, n=1)
    _beats(app, sid, uid, [(T0 + i * 15, beat(i + 1, i * 15.0)) for i in range(5)])
    with app.app_context():
        with db.transaction() as s:
            assert checks.answer_attention(s, s.get(LearningSession, sid), T0 + 70)["late"] is False
    answers = _beats(app, sid, uid, [(T0 + 75, beat(6, 75.0)), (T0 + 90, beat(7, 90.0))])
    assert answers[-1]["session_credited_seconds"] == pytest.approx(90)


def test_silent_sessions_are_closed_and_sealed(app, demo):
    sid, uid = _service_session(app, demo)
    _beats(app, sid, uid, [(T0, beat(1, 0.0)), (T0 + 15, beat(2, 15.0))])
    with app.app_context():
        with db.transaction() as s:
            assert sessions.sweep_stale(s, now=T0 + 15 + sessions.STALE_AFTER + 1) == 1
        with db.transaction() as s:
            sess = s.get(LearningSession, sid)
            assert (sess.status, sess.end_reason) == ("ended", "timeout")
            assert verify(s)["first_bad_seq"] is None


def test_a_heartbeat_after_the_end_is_recorded_sealed_and_not_credited(app, demo):
    sid, uid = _service_session(app, demo)
    _beats(app, sid, uid, [(T0 + i * 15, beat(i + 1, i * 15.0)) for i in range(3)])
    with app.app_context():
        with db.transaction() as s:
            sessions.end_session(s, s.get(LearningSession, sid), "closed", now=T0 + 40)
    late = _beats(app, sid, uid, [(T0 + 45, beat(4, 45.0))])
    assert late[0]["credited_seconds"] == 0 and late[0]["session_active"] is False
    with app.app_context():
        with db.transaction() as s:
            sealed = s.execute(text("SELECT payload FROM ledger_entries WHERE kind = 'heartbeats.sealed'")).scalars().all()
            assert sum(json.loads(p)["count"] for p in sealed) == 4  # every recorded heartbeat is sealed
            assert verify(s)["first_bad_seq"] is None


def test_the_writer_applies_a_burst_from_many_threads_in_order(app, demo, trainee, chapter_id):
    """Heartbeats posted at once by many clients are batched by the writer thread; none is lost or doubled."""
    import threading

    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    answers, errors = {}, []

    def post(seq):
        client = app.test_client()
        r = client.post(f"/api/v1/sessions/{sid}/heartbeats", json=beat(seq, 0.0, playing=False),
                        headers={"Authorization": f"Bearer {trainee.token}"})
        (answers.__setitem__(seq, r.get_json()) if r.status_code == 200 else errors.append(r.get_json()))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(1, 41)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(answers) == list(range(1, 41))
    with app.app_context():
        with db.transaction() as s:
            seqs = s.scalars(select(Heartbeat.seq).where(Heartbeat.session_id == sid)).all()
    assert sorted(seqs) == list(range(1, 41))


def test_heartbeats_arriving_while_the_session_ends_are_stored_once(app, trainee, chapter_id):
    """Leaving the player ends the session while its last heartbeats are still coming (the socket and the page's
    resend of its offline buffer): every one is stored once and each copy gets the first answer, never a 503."""
    from concurrent.futures import ThreadPoolExecutor

    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    assert trainee.post(f"/sessions/{sid}/heartbeats", beat(1, 0.0)).status_code == 200
    late = [beat(seq, 15.0 * seq) for seq in (2, 3, 4)]
    with ThreadPoolExecutor(4) as pool:
        sends = [pool.submit(trainee.post, f"/sessions/{sid}/heartbeats", b) for b in late * 3]
        ended = pool.submit(trainee.post, f"/sessions/{sid}/end")
        answers = [f.result() for f in sends]
    assert ended.result().status_code == 200
    assert [r.status_code for r in answers] == [200] * 9, [r.get_json() for r in answers]
    for seq in (2, 3, 4):
        assert len({json.dumps(r.get_json(), sort_keys=True) for r in answers if r.get_json()["seq"] == seq}) == 1
    with app.app_context():
        seqs = db.session.scalars(select(Heartbeat.seq).where(Heartbeat.session_id == sid).order_by(Heartbeat.seq)).all()
        assert seqs == [1, 2, 3, 4]
        assert verify(db.session)["first_bad_seq"] is None


def test_a_heartbeat_resent_after_the_session_ended_gets_its_first_answer(app, trainee, chapter_id):
    sid = trainee.post("/sessions", {"chapter_id": chapter_id}).get_json()["session_id"]
    assert trainee.post(f"/sessions/{sid}/heartbeats", beat(1, 0.0)).status_code == 200
    assert trainee.post(f"/sessions/{sid}/end").status_code == 200
    first = trainee.post(f"/sessions/{sid}/heartbeats", beat(2, 15.0))
    again = trainee.post(f"/sessions/{sid}/heartbeats", beat(2, 15.0))
    assert first.status_code == again.status_code == 200, again.get_json()
    assert first.get_json() == again.get_json() and first.get_json()["credited_seconds"] == 0
    with app.app_context():
        assert db.session.scalars(select(Heartbeat.seq).where(Heartbeat.session_id == sid)).all() == [1, 2]
