"""Live lectures (直播): the presence rule, scheduling, attendance sessions, access, and what a class requires."""
import io
import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from models import LearningSession, LectureProgress, LedgerEntry, LiveLecture, SessionCheck, TrainingClass, User
from tracker.accounts.rules import RuleError
from tracker.extensions import db
from tracker.learning import checks, crediting, lectures, sessions
from tracker.learning.crediting import Beat, Limits, State, credit_presence
from tracker.ledger.services import verify

CST = crediting.CST
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=CST).timestamp()  # inside the demo class's dates
START, END = T0 + 3600, T0 + 2 * 3600  # the lecture: 10:00 to 11:00
LIMITS = Limits.for_interval(15)


# --- the rule ------------------------------------------------------------------------------------------------------


def presence(beats, starts=START, ends=END, day_credited=0.0, blocked_since=None, limits=LIMITS):
    """Apply credit_presence to a stream of (ts, playing, visible, focused) as the server does; the decisions."""
    state, out = State(None, 0.0, None, 0.0, ends - starts, day_credited, True, blocked_since), []
    for ts, *flags in beats:
        d = credit_presence(state, Beat(ts, 0.0, 1.0, *flags) if flags else Beat(ts, 0.0), limits, starts, ends)
        out.append(d)
        state = State(ts, 0.0, d.anchor_ts, d.furthest, state.chapter_seconds, state.day_credited + d.credited, True,
                      blocked_since)
    return out


def test_presence_inside_the_lecture_is_credited_by_the_clock():
    ds = presence([(START + i * 15,) for i in range(5)])
    assert ds[0].reasons == (crediting.BASELINE,)
    assert [d.credited for d in ds[1:]] == [15, 15, 15, 15]


def test_time_before_the_start_and_after_the_end_is_not_credited():
    ds = presence([(START - 20,), (START - 5,), (START + 10,)])
    assert ds[1].credited == 0 and ds[1].reasons == (crediting.NOT_LIVE,)
    assert ds[2].credited == 10 and crediting.LIVE_WINDOW in ds[2].reasons  # only the part after the start
    ds = presence([(END - 10,), (END + 5,), (END + 20,)])
    assert ds[1].credited == 10 and crediting.LIVE_WINDOW in ds[1].reasons
    assert ds[2].credited == 0 and ds[2].reasons == (crediting.NOT_LIVE,)


@pytest.mark.parametrize("flags, reason", [((False, True, True), crediting.NOT_PLAYING),
                                           ((True, False, True), crediting.HIDDEN),
                                           ((True, True, False), crediting.UNFOCUSED)])
def test_the_same_visibility_rules_as_video(flags, reason):
    ds = presence([(START,), (START + 15, *flags)])
    assert ds[1].credited == 0 and reason in ds[1].reasons


def test_a_long_silence_earns_nothing():
    ds = presence([(START,), (START + 15 * 4 + 1,)])
    assert ds[1].credited == 0 and crediting.GAP_TOO_LONG in ds[1].reasons


def test_a_pending_check_holds_credit_and_a_failed_one_blocks_it():
    ds = presence([(START,), (START + 15,), (START + 30,)], blocked_since=START + 20)
    assert ds[1].credited == 15
    assert ds[2].credited == 5 and crediting.CHECK_BLOCKED in ds[2].reasons
    assert ds[2].anchor_ts == START + 20  # held from there: released when the check passes in time


def test_the_daily_cap_is_shared_with_video():
    ds = presence([(START,), (START + 15,)], day_credited=LIMITS.daily_cap - 4)
    assert ds[1].credited == 4 and crediting.DAILY_CAP in ds[1].reasons


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 120.0), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=80),
       st.floats(-300.0, 300.0))
def test_presence_never_exceeds_the_lecture_time_it_overlaps(steps, offset):
    """Whatever the heartbeats claim: credit ≤ the part of [first beat, last beat] inside the lecture."""
    ts, beats = START + offset, []
    for gap, playing, visible, focused in steps:
        ts += gap
        beats.append((ts, playing, visible, focused))
    ds = presence(beats, starts=START, ends=START + 600)
    total = sum(d.credited for d in ds)
    overlap = max(0.0, min(beats[-1][0], START + 600) - max(beats[0][0], START))
    assert total <= overlap + 1e-6
    assert total <= 600 + 1e-6
    assert all(d.credited >= 0 for d in ds)


# --- scheduling ----------------------------------------------------------------------------------------------------


@pytest.fixture
def world(app, demo):
    app.config["TRACKER_ATTENTION_MEAN"] = 0
    with app.app_context():
        with db.transaction() as s:
            s.execute(text("UPDATE classes SET photo_checks = false"))
    accounts = {a["username"]: a for a in demo["accounts"]}
    staff = next(a for a in demo["accounts"] if a["role"] == "staff")
    trainees = [a for a in demo["accounts"] if a["role"] == "trainee"]
    return {"class_id": demo["classes"][0]["class_id"], "staff": staff, "trainees": trainees, "accounts": accounts}


def schedule(app, world, now=T0, **over):
    fields = dict(title="安全用电直播答疑", teacher="王老师", stream_url="https://live.example.cn/room/1.m3u8",
                  starts_at=datetime.fromtimestamp(START, CST).isoformat(), ends_at=datetime.fromtimestamp(END, CST).isoformat())
    fields.update(over)
    with app.app_context():
        with db.transaction() as s:
            cls = s.get(TrainingClass, world["class_id"])
            staff = s.get(User, world["staff"]["user_id"])
            return lectures.schedule_lecture(s, cls, staff, now=now, **fields).id


@pytest.mark.parametrize("over, code", [
    ({"title": ""}, "missing_field"),
    ({"stream_url": "javascript:alert(1)"}, "invalid_stream_url"),
    ({"stream_url": "//evil.example/x"}, "invalid_stream_url"),
    ({"starts_at": "明天上午"}, "invalid_time"),
    ({"starts_at": datetime.fromtimestamp(T0 - 60, CST).isoformat()}, "starts_in_past"),
    ({"ends_at": datetime.fromtimestamp(START + 300, CST).isoformat()}, "invalid_length"),
    ({"ends_at": datetime.fromtimestamp(START + 7 * 3600, CST).isoformat()}, "invalid_length"),
    ({"starts_at": "2027-03-01T10:00", "ends_at": "2027-03-01T11:00"}, "outside_class_dates"),
])
def test_bad_schedules_are_refused_and_nothing_is_written(app, world, over, code):
    with pytest.raises(RuleError) as e:
        schedule(app, world, **over)
    assert e.value.code == code
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(LiveLecture.id)) is None
        assert s.scalar(select(LedgerEntry.seq).where(LedgerEntry.kind.like("lecture.%"))) is None


def test_a_naive_time_is_beijing_time_and_overlaps_are_refused(app, world):
    lid = schedule(app, world, starts_at="2026-12-01 10:00", ends_at="2026-12-01 11:00")
    with app.app_context(), db.transaction() as s:
        assert s.get(LiveLecture, lid).starts_ts == START
    with pytest.raises(RuleError) as e:
        schedule(app, world, starts_at="2026-12-01 10:30", ends_at="2026-12-01 11:30")
    assert e.value.code == "overlapping_lecture"


def test_change_and_cancel_only_before_the_start_and_in_the_ledger(app, world):
    lid = schedule(app, world)
    with app.app_context():
        with db.transaction() as s:
            lecture, staff = s.get(LiveLecture, lid), s.get(User, world["staff"]["user_id"])
            lectures.change_lecture(s, lecture, staff, "改期后的直播", "", "https://live.example.cn/2", "2026-12-01 10:10",
                                    "2026-12-01 11:10", now=T0)
        with db.transaction() as s:
            lecture, staff = s.get(LiveLecture, lid), s.get(User, world["staff"]["user_id"])
            for call in (lambda: lectures.change_lecture(s, lecture, staff, "x", "", "https://a.cn", "2026-12-02 10:00",
                                                         "2026-12-02 11:00", now=START + 700),
                         lambda: lectures.cancel_lecture(s, lecture, staff, "老师生病", now=START + 700)):
                with pytest.raises(RuleError, match="直播已开始"):
                    call()
            lectures.cancel_lecture(s, lecture, staff, "老师生病", now=T0)
        with db.transaction() as s:
            kinds = s.scalars(select(LedgerEntry.kind).where(LedgerEntry.kind.like("lecture.%")).order_by(LedgerEntry.seq)).all()
            assert kinds == ["lecture.scheduled", "lecture.changed", "lecture.cancelled"]
            assert s.get(LiveLecture, lid).title == "改期后的直播"


# --- attendance ----------------------------------------------------------------------------------------------------


def beat(seq, **flags):
    data = dict(seq=seq, position=0.0, rate=1.0, playing=True, visible=True, focused=True, client_time=time.time(), env={})
    data.update(flags)
    return data


def attend(app, lid, uid, times, first_seq=1, join=None):
    with app.app_context():
        with db.transaction() as s:
            sess = sessions.start_lecture_session(s, s.get(User, uid), lid, now=join or times[0] - 1)
            sid = sess.id
        answers = []
        for n, ts in enumerate(times):
            with db.transaction() as s:
                sess = sessions.lock_session(s, sid, uid)
                answers.append(sessions.record_heartbeat(s, sess, sessions.parse_heartbeat(beat(first_seq + n)), now=ts))
    return sid, answers


def test_attendance_is_credited_sealed_and_shown_to_staff(app, world):
    lid = schedule(app, world)
    uid = world["trainees"][0]["user_id"]
    sid, answers = attend(app, lid, uid, [START - 30 + 15 * i for i in range(26)], join=START - 600)
    assert answers[1]["reasons"] == ["not_live"]
    assert answers[-1]["lecture_credited_seconds"] == pytest.approx(15 * 25 - 30)
    with app.app_context():
        with db.transaction() as s:
            totals = sessions.end_session(s, s.get(LearningSession, sid), "left", now=START + 400)
            assert totals["lecture_id"] == lid and "chapter_id" not in totals
        with db.transaction() as s:
            assert verify(s)["first_bad_seq"] is None
            seals = [json.loads(p) for p in s.scalars(select(LedgerEntry.payload).where(LedgerEntry.kind == "heartbeats.sealed"))]
            assert seals and all(p["lecture_id"] == lid for p in seals)
            rows = {r["trainee_id"]: r for r in lectures.attendance(s, s.get(LiveLecture, lid))}
            from tracker.learning.record import trainee_record
            from tracker.regulator.trace import _sessions
            from tracker.security import EVERYTHING

            rec = trainee_record(s, s.get(User, uid))
            traced = _sessions(s, s.get(User, uid), EVERYTHING)[0]
        me = rows[uid]
        assert me["credited_seconds"] == pytest.approx(345) and me["sessions"] == 1 and "*" in me["id_mask"]
        # the trainee's record and the inspector's trace show the lecture beside the chapters
        assert rec["lectures"][0]["credited_seconds"] == pytest.approx(345)
        assert rec["total_credited_seconds"] == pytest.approx(345) and rec["sessions"][0]["lecture_title"] == "安全用电直播答疑"
        assert traced[0]["lecture_id"] == lid and traced[0]["chapter"] == "直播：安全用电直播答疑"
        assert traced[0]["end_reason_label"] == "离开直播间"
        assert rows[world["trainees"][1]["user_id"]]["credited_seconds"] == 0


def test_the_room_opens_fifteen_minutes_early_and_closes_at_the_end(app, world):
    lid = schedule(app, world)
    uid = world["trainees"][0]["user_id"]
    with app.app_context():
        for now, code in ((START - 16 * 60, "lecture_not_open"), (END, "lecture_over")):
            with db.transaction() as s:
                with pytest.raises(RuleError) as e:
                    sessions.start_lecture_session(s, s.get(User, uid), lid, now=now)
                assert e.value.code == code
        with db.transaction() as s:
            sess = sessions.start_lecture_session(s, s.get(User, uid), lid, now=END - 60)
            sid = sess.id
        with db.transaction() as s:
            sessions.sweep_stale(s, now=END + 120)
        with db.transaction() as s:
            assert s.get(LearningSession, sid).end_reason == "lecture_over"


def test_a_trainee_of_another_class_cannot_enter(app, world):
    lid = schedule(app, world)
    with app.app_context(), db.transaction() as s:
        from tests.conftest import register_payload
        from tracker.accounts.services import register_trainee

        outsider = register_trainee(s, register_payload())
        with pytest.raises(RuleError) as e:
            sessions.start_lecture_session(s, outsider, lid, now=START)
        assert e.value.status == 404


def test_entering_a_lecture_ends_the_video_session_and_a_sign_in_photo_is_asked(app, world):
    lid = schedule(app, world)
    uid = world["trainees"][0]["user_id"]
    with app.app_context():
        with db.transaction() as s:
            s.execute(text("UPDATE classes SET photo_checks = true"))
            video = sessions.start_session(s, s.get(User, uid), s.get(TrainingClass, world["class_id"]).courses[0].chapters[0].id,
                                           now=START - 100)
            vid = video.id
        with db.transaction() as s:
            sess = sessions.start_lecture_session(s, s.get(User, uid), lid, now=START - 50)
            assert s.get(LearningSession, vid).end_reason == "replaced"
            check = s.get(SessionCheck, sess.pending_check_id)
            assert check.kind == checks.PHOTO_SIGNIN and sess.block_reason == "check_pending"


def test_the_exam_and_certificate_count_the_lectures(app, world):
    from tracker.assessment.services import exam_lock

    uid = world["trainees"][0]["user_id"]
    with app.app_context(), db.transaction() as s:
        cls, trainee = s.get(TrainingClass, world["class_id"]), s.get(User, uid)
        _, chapters_only = exam_lock(s, trainee, cls)[:2]
    lid = schedule(app, world)
    attend(app, lid, uid, [START + 15 * i for i in range(5)], join=START - 5)
    with app.app_context(), db.transaction() as s:
        cls, trainee = s.get(TrainingClass, world["class_id"]), s.get(User, uid)
        credited, required = exam_lock(s, trainee, cls)[:2]
        assert required == chapters_only + 3600
        assert credited == pytest.approx(60)
        assert s.get(LectureProgress, (uid, lid)).credited_seconds == pytest.approx(60)
        from tracker.certificates.rules import online_hours
        from tracker.certificates.services import lecture_totals

        assert online_hours(s, trainee, cls).required == int(required)
        assert lecture_totals(s, trainee, cls) == {"count": 1, "required_seconds": 3600, "credited_seconds": 60,
                                                   "required_class_hours": 1.33, "credited_class_hours": 0.02}


# --- the API -------------------------------------------------------------------------------------------------------


def future(minutes):
    return datetime.fromtimestamp(time.time() + minutes * 60, CST).isoformat(timespec="seconds")


def test_api_scheduling_and_denials(api, world, app):
    staff = api(world["staff"]["username"])
    body = {"title": "直播", "stream_url": "https://live.example.cn/a.m3u8", "starts_at": future(5), "ends_at": future(65)}
    cid = world["class_id"]
    r = api(world["trainees"][0]["username"]).post(f"/classes/{cid}/lectures", body)
    assert r.status_code == 403
    r = staff.post(f"/classes/{cid}/lectures", {**body, "ends_at": future(6)})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_length"
    r = staff.post(f"/classes/{cid}/lectures", body)
    assert r.status_code == 201, r.get_json()
    lid = r.get_json()["lecture_id"]
    assert r.get_json()["stream_kind"] == "hls" and r.get_json()["state"] == "upcoming"
    assert staff.post("/classes/999999/lectures", body).status_code == 404
    trainee = api(world["trainees"][0]["username"])
    mine = trainee.get("/me/lectures").get_json()["lectures"]
    assert [x["lecture_id"] for x in mine] == [lid]
    assert trainee.get(f"/lectures/{lid}").status_code == 200
    assert trainee.get(f"/lectures/{lid}/attendance").status_code == 403
    assert trainee.post(f"/lectures/{lid}/cancel", {"reason": "x"}).status_code == 403
    assert staff.get(f"/lectures/{lid}/attendance").status_code == 200
    r = trainee.post(f"/lectures/{lid}/sessions")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["lecture_id"] == lid and r.get_json()["starts_in_seconds"] > 0
    # another institution's staff, a regulator elsewhere, a trainee of another class
    with app.app_context(), db.transaction() as s:
        from models import Institution
        from tracker.accounts.services import create_user
        from tests.conftest import register_payload
        from tracker.accounts.services import register_trainee

        other = Institution(name="别的机构", region_code="110101")
        s.add(other)
        s.flush()
        create_user(s, role="staff", name="他人", password="Other1234", phone="13700000001", institution_id=other.id)
        create_user(s, role="regulator", name="外地", password="Other1234", phone="13700000002", region_code="110000")
        register_trainee(s, register_payload(phone="13700000003", password="Other1234"))
    for phone, code in (("13700000001", 404), ("13700000002", 404), ("13700000003", 404)):
        assert api(phone, "Other1234").get(f"/lectures/{lid}").status_code == code
    assert api("13700000001", "Other1234").post(f"/lectures/{lid}/cancel", {"reason": "x"}).status_code == 404
    assert api("13700000003", "Other1234").post(f"/lectures/{lid}/sessions").status_code == 404
    assert api("13700000001", "Other1234").get(f"/classes/{cid}/lectures").status_code == 403
    r = staff.post(f"/lectures/{lid}/recording")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "lecture_not_over"
    assert staff.post(f"/lectures/{lid}/cancel", {"reason": "改期"}).get_json()["state"] == "cancelled"
    with app.app_context(), db.transaction() as s:  # the trainee waiting in the room was let out
        waiting = s.scalar(select(LearningSession).where(LearningSession.lecture_id == lid))
        assert waiting.status == "ended" and waiting.end_reason == "lecture_cancelled"
    assert trainee.post(f"/lectures/{lid}/sessions").get_json()["error"]["code"] == "lecture_cancelled"


def test_the_recording_and_attendance_go_to_the_class_archive(app, world, tmp_path):
    from tests.conftest import _tiny_video
    from tracker.regulator.exports import class_archive

    lid = schedule(app, world)
    uid = world["trainees"][0]["user_id"]
    attend(app, lid, uid, [START + 15 * i for i in range(9)], join=START - 5)
    _tiny_video(tmp_path / "rec.webm", "rec", 90)

    def rec():
        return io.BytesIO((tmp_path / "rec.webm").read_bytes())

    with app.app_context():
        with db.transaction() as s:
            lecture, staff = s.get(LiveLecture, lid), s.get(User, world["staff"]["user_id"])
            with pytest.raises(RuleError) as e:
                lectures.attach_recording(s, lecture, staff, rec(), "rec.webm", now=END - 1)
            assert e.value.code == "lecture_not_over"
            with pytest.raises(RuleError) as e:
                lectures.attach_recording(s, lecture, staff, rec(), "rec.exe", now=END + 1)
            assert e.value.code == "unsupported_video"
            lectures.attach_recording(s, lecture, staff, rec(), "rec.webm", now=END + 1)
        with db.transaction() as s:
            lecture, staff = s.get(LiveLecture, lid), s.get(User, world["staff"]["user_id"])
            assert lectures.recording_path(lecture).is_file()
            with pytest.raises(RuleError) as e:  # evidence: never replaced
                lectures.attach_recording(s, lecture, staff, rec(), "rec.webm", now=END + 2)
            assert e.value.code == "recording_exists"
            tables = {name: rows for name, _header, rows in class_archive(s, s.get(TrainingClass, world["class_id"]))["tables"]}
            entry = json.loads(s.scalar(select(LedgerEntry.payload).where(LedgerEntry.kind == "lecture.recording_attached")))
        assert tables["直播课"][0][0] == "安全用电直播答疑" and tables["直播课"][0][-1] == lecture.recording_sha256 == entry["sha256"]
        mine = next(row for row in tables["直播出勤"] if row[1] == world["trainees"][0]["name"])
        assert mine[3] == 2.0 and mine[4] == "3.3%"  # 120 s of the hour
        totals = {row[0]: row for row in tables["学时汇总"]}
        assert totals[world["trainees"][0]["name"]][2] == 2.0


def test_two_uploads_of_one_recording_keep_the_first(app, world, tmp_path):
    """The second upload was checked before the first was stored: the row is read again under a lock."""
    from tests.conftest import _tiny_video

    lid = schedule(app, world)
    _tiny_video(tmp_path / "rec.webm", "rec", 60)
    data = (tmp_path / "rec.webm").read_bytes()
    with app.app_context():
        with db.transaction() as s:
            stale = s.get(LiveLecture, lid)  # as a request that checked before the other stored its file
            staff = s.get(User, world["staff"]["user_id"])
        with db.transaction() as s:
            lectures.attach_recording(s, s.get(LiveLecture, lid), s.get(User, staff.id), io.BytesIO(data), "a.webm",
                                      now=END + 1)
        with db.transaction() as s:
            s.add(stale)
            with pytest.raises(RuleError) as e:
                lectures.attach_recording(s, stale, staff, io.BytesIO(data), "b.webm", now=END + 2)
            assert e.value.code == "recording_exists"
        with db.transaction() as s:
            kept = s.get(LiveLecture, lid).recording_file
            assert s.scalar(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.kind == "lecture.recording_attached")) == 1
        files = sorted(p.name for p in (Path(app.config["TRACKER_INSTANCE"]) / "media" / "lectures").iterdir())
        assert files == [kept.split("/")[-1]]  # the second file was removed
