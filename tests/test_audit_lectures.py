"""Adversarial audit of live lectures (直播) and anomaly reviews (核查处置): bad input must get a clear 4xx in Chinese
(JSON under /api/, a page elsewhere) and leave nothing half-written; stream addresses must not lead to another site.
Each test here failed before the fix it came with (or guards a denial next to one)."""
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import LearningSession, LedgerEntry, LiveLecture
from tests.test_anomaly_reviews import NOTE, flagged, written  # noqa: F401 (fixture)
from tests.test_lecture_pages import STAFF, TRAINEE, add_lecture, cls_id, form, login  # noqa: F401 (fixture)
from tests.test_regulator_portal import account, regulator, web  # noqa: F401 (fixture)
from tracker.accounts.rules import RuleError
from tracker.extensions import db
from tracker.learning import lectures
from tracker.learning.crediting import CST

HUGE = 2 ** 70  # an id no database column holds: looking it up overflowed (SQLite) or failed (PostgreSQL), a 500


def at(minutes):
    return (datetime.now(CST) + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def body(**over):
    data = {"title": "直播答疑", "teacher": "王老师", "stream_url": "https://live.example.cn/a.m3u8",
            "starts_at": at(30), "ends_at": at(90)}
    data.update(over)
    return data


def counts(app):
    """(lectures, lecture.* ledger entries, all ledger entries): what a refused request must leave as it was."""
    with app.app_context(), db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(LiveLecture)),
                s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind.like("lecture.%"))),
                s.scalar(select(func.count()).select_from(LedgerEntry)))


def assert_error(r, status, code=None, field=None):
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    error = r.get_json()["error"]
    assert error["message"] and not error["message"].isascii()  # a message in Chinese
    if code:
        assert error["code"] == code, error
    if field:
        assert error.get("field") == field, error


# --- times ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("starts, ends", [
    ("9999-12-31T20:00-12:00", "9999-12-31T21:00-12:00"),  # year 10000 in Beijing: fromtimestamp raised, a 500
    ("9999-12-31T23:00+08:00", "9999-12-31T23:50-11:00"),  # the end alone past the last date
])
def test_a_time_with_no_date_in_beijing_is_refused_not_a_500(app, api, cls_id, starts, ends):
    staff = api(STAFF)
    before = counts(app)
    r = staff.post(f"/classes/{cls_id}/lectures", body(starts_at=starts, ends_at=ends))
    assert_error(r, 400, "invalid_time")
    assert counts(app) == before


def test_the_form_with_such_a_time_shows_an_error_page_not_a_500(app, cls_id):
    staff = login(app, STAFF)
    before = counts(app)
    r = staff.post(f"/classes/{cls_id}/lectures", data=form(date="9999-12-31", start="20:00-12:00", end="21:00-12:00"))
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "超出可安排的范围" in page and 'value="王老师"' in page
    assert counts(app) == before


@pytest.mark.parametrize("value", [5, 1.5, ["2026-12-01T10:00"], {"t": 1}, True])
def test_a_time_that_is_not_text_is_called_malformed_not_missing(app, api, cls_id, value):
    """It was answered 请填写开始时间 (missing) though a value was sent."""
    r = api(STAFF).post(f"/classes/{cls_id}/lectures", body(starts_at=value))
    assert_error(r, 400, "invalid_time", "starts_at")
    assert "格式" in r.get_json()["error"]["message"]
    assert counts(app)[0] == 0


def test_a_change_to_such_a_time_is_refused_and_the_schedule_stays(app, api, cls_id):
    staff = api(STAFF)
    made = staff.post(f"/classes/{cls_id}/lectures", body()).get_json()
    lid, before = made["lecture_id"], counts(app)
    r = staff.post(f"/lectures/{lid}/change", body(starts_at="9999-12-31T20:00-12:00", ends_at="9999-12-31T21:00-12:00"))
    assert_error(r, 400, "invalid_time")
    assert counts(app) == before
    assert staff.get(f"/lectures/{lid}").get_json()["starts_at"] == made["starts_at"]


# --- the stream's address ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "/\\evil.example/live",       # a browser reads it as //evil.example/live: another site in the room's frame
    "/\t/evil.example/live",      # tabs and line breaks are dropped from addresses: //evil.example/live again
    "/\n/evil.example/live",
    "/\r/evil.example/live",
    "/media/chapters/1/video.webm x",
    "https://live.example.cn/a\\b.m3u8",
])
def test_a_site_path_that_a_browser_reads_as_another_site_is_refused(app, api, cls_id, url):
    staff = api(STAFF)
    before = counts(app)
    r = staff.post(f"/classes/{cls_id}/lectures", body(stream_url=url))
    assert_error(r, 400, "invalid_stream_url", "stream_url")
    assert counts(app) == before
    with pytest.raises(RuleError) as e:
        lectures.validate_stream_url(url)
    assert e.value.code == "invalid_stream_url"


def test_the_form_refuses_a_backslash_path_too(app, cls_id):
    r = login(app, STAFF).post(f"/classes/{cls_id}/lectures", data=form(stream_url="/\\evil.example/live"))
    assert r.status_code == 400 and "反斜杠" in r.get_data(as_text=True)
    assert counts(app)[0] == 0


def test_plain_site_paths_and_https_addresses_still_pass():
    for url in ("/media/chapters/1/video.webm", "https://live.example.cn/room/1.m3u8", "https://v.example.cn/embed?id=3"):
        assert lectures.validate_stream_url(url) == url


def test_a_title_with_markup_is_shown_as_text_in_the_room_and_on_the_class_page(app, cls_id):
    evil = "<script>alert(1)</script>"
    lid = add_lecture(app, cls_id, 3600, title=evil)
    room = login(app, TRAINEE).get(f"/learn/lectures/{lid}").get_data(as_text=True)
    page = login(app, STAFF).get(f"/classes/{cls_id}").get_data(as_text=True)
    for html in (room, page):
        assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- ids no row can have -------------------------------------------------------------------------------------------


def test_api_ids_beyond_the_database_are_not_found_not_a_500(app, api, cls_id):
    staff, trainee = api(STAFF), api(TRAINEE)
    before = counts(app)
    for r in (staff.get(f"/lectures/{HUGE}"), staff.get(f"/classes/{HUGE}/lectures"),
              staff.post(f"/classes/{HUGE}/lectures", body()), staff.post(f"/lectures/{HUGE}/change", body()),
              staff.post(f"/lectures/{HUGE}/cancel", {"reason": "x"}), staff.post(f"/lectures/{HUGE}/recording"),
              staff.get(f"/lectures/{HUGE}/attendance"), staff.post(f"/classes/{HUGE}/roster", {"id_number": "x"}),
              staff.get(f"/trainees/{HUGE}/record"), trainee.post(f"/lectures/{HUGE}/sessions"),
              trainee.post(f"/sessions/{HUGE}/end"), trainee.post(f"/sessions/{HUGE}/attention"),
              trainee.post(f"/sessions/{HUGE}/heartbeats", {"seq": 1, "position": 0, "rate": 1, "playing": True,
                                                           "visible": True, "focused": True})):
        assert_error(r, 404, "not_found")
    assert counts(app) == before


def test_page_ids_beyond_the_database_are_not_found_not_a_500(app, cls_id):
    staff, trainee = login(app, STAFF), login(app, TRAINEE)
    for r in (staff.get(f"/lectures/{HUGE}/edit"), staff.get(f"/lectures/{HUGE}/attendance"),
              staff.post(f"/lectures/{HUGE}/cancel", data={"reason": "x"}),
              staff.post(f"/classes/{HUGE}/lectures", data=form()), staff.get(f"/media/lectures/{HUGE}/recording"),
              trainee.get(f"/learn/lectures/{HUGE}"), trainee.get(f"/learn/lectures/{HUGE}/replay")):
        assert r.status_code == 404 and "未找到" in r.get_data(as_text=True)


# --- the live room over Socket.IO ----------------------------------------------------------------------------------


@pytest.fixture
def player(app, api, cls_id):
    from tracker.extensions import socketio

    client = socketio.test_client(app, namespace="/learn", auth={"token": api(TRAINEE).token})
    assert client.is_connected("/learn")
    yield lambda event, data: client.emit(event, data, namespace="/learn", callback=True)
    client.disconnect(namespace="/learn")


def test_live_join_and_leave_answer_bad_payloads_with_an_error(app, cls_id, player):
    """A payload that is not an object or an id too large raised in the handler: no answer, the client waited."""
    lid = add_lecture(app, cls_id, 300)
    before = counts(app)
    for data in ([lid], "x", 5, {"lecture_id": HUGE}, {"lecture_id": -HUGE}):
        answer = player("live_join", data)
        assert answer["error"]["code"] in ("bad_request", "not_enrolled") and not answer["error"]["message"].isascii()
    for event in ("live_leave", "join", "attention"):
        for data in ([1], 5, "x", {"session_id": HUGE}, {"session_id": float("inf")}, {"session_id": -1}):
            assert player(event, data)["error"]["code"] == "not_found", (event, data)
    answer = player("heartbeat", {"session_id": HUGE, "seq": 1, "position": 0.0, "rate": 1.0, "playing": True,
                                  "visible": True, "focused": True, "client_time": time.time(), "env": {}})
    assert answer["error"]["code"] == "not_found"
    assert counts(app) == before
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(LearningSession)) == 0
    # and the room still works
    joined = player("live_join", {"lecture_id": lid})
    assert joined["lecture_id"] == lid, joined
    assert player("live_leave", {"session_id": joined["session_id"]})["end_reason"] == "left"


# --- writes with a cookie need the CSRF token ----------------------------------------------------------------------


def test_cookie_authenticated_lecture_writes_need_the_csrf_token(app, cls_id):
    lid = add_lecture(app, cls_id, 3600)
    staff = login(app, STAFF)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for path, data in ((f"/api/v1/classes/{cls_id}/lectures", body()), (f"/api/v1/lectures/{lid}/cancel", {"reason": "x"}),
                           (f"/api/v1/lectures/{lid}/change", body())):
            r = staff.post(path, json=data)
            assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
        for path, data in ((f"/classes/{cls_id}/lectures", form()), (f"/lectures/{lid}/cancel", {"reason": "x"}),
                           (f"/lectures/{lid}/edit", form())):
            assert staff.post(path, data=data).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert counts(app)[:2] == (1, 1)


# --- the recording --------------------------------------------------------------------------------------------------


def lecture_files(app):
    folder = Path(app.config["TRACKER_INSTANCE"]) / "media" / "lectures"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_recording_whose_commit_fails_leaves_no_file_behind(app, api, cls_id, tmp_path, monkeypatch):
    """The API stored the file, then the commit failed: the file stayed in media/lectures, named by no row."""
    from tests.conftest import _tiny_video

    lid = add_lecture(app, cls_id, -3 * 3600)
    _tiny_video(tmp_path / "rec.webm", "rec", 60)
    staff = api(STAFF)
    before = counts(app)

    def refuse():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", refuse)
    with (tmp_path / "rec.webm").open("rb") as f:
        r = staff.client.post(f"/api/v1/lectures/{lid}/recording", data={"video": (f, "rec.webm")},
                              headers={"Authorization": f"Bearer {staff.token}"}, content_type="multipart/form-data")
    monkeypatch.undo()
    assert r.status_code == 500
    assert lecture_files(app) == [] and counts(app) == before
    with app.app_context(), db.transaction() as s:
        assert s.get(LiveLecture, lid).recording_file is None
    with (tmp_path / "rec.webm").open("rb") as f:  # and it can be uploaded again
        r = staff.client.post(f"/api/v1/lectures/{lid}/recording", data={"video": (f, "rec.webm")},
                              headers={"Authorization": f"Bearer {staff.token}"}, content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["has_recording"] and len(lecture_files(app)) == 1


# --- anomaly reviews -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["Infinity", "-Infinity", "1e400"])
def test_an_infinite_window_is_refused_not_a_500(app, regulator, flagged, days):
    """Python's JSON reads Infinity (and 1e400 as inf); int() of it raised OverflowError."""
    a, _ = flagged
    raw = '{"conclusion": "watch", "note": "%s", "days": %s}' % (NOTE, days)
    r = regulator.client.post(f"/api/v1/regulator/trainees/{a}/reviews", data=raw, content_type="application/json",
                              headers={"Authorization": f"Bearer {regulator.token}"})
    assert_error(r, 400, "invalid_field", "days")
    assert written(app) == (0, 0)


@pytest.mark.parametrize("note", ["调阅照片\x00确认代刷", "核查\x1b[31m说明", "\x07"])
def test_a_note_with_control_characters_is_refused(app, regulator, flagged, note):
    """A NUL was stored on SQLite and refused by PostgreSQL with a 500; other control characters have no place."""
    a, _ = flagged
    r = regulator.post(f"/regulator/trainees/{a}/reviews", {"conclusion": "violation", "note": note})
    assert_error(r, 400, "invalid_field", "note")
    assert "控制字符" in r.get_json()["error"]["message"]
    assert written(app) == (0, 0)


def test_the_review_page_refuses_a_nul_in_the_note_and_keeps_line_breaks(app, demo, flagged):
    a, _ = flagged
    client = web(app, account(demo, "regulator")["username"])
    r = client.post(f"/regulator/trainees/{a}/review", data={"conclusion": "violation", "note": "代刷\x00"})
    assert r.status_code == 400 and "控制字符" in r.get_data(as_text=True)
    assert written(app) == (0, 0)
    r = client.post(f"/regulator/trainees/{a}/review", data={"conclusion": "violation", "note": "第一行\r\n第二行\t完"})
    assert r.status_code == 302 and written(app) == (1, 1)


def test_review_ids_beyond_the_database_are_not_found_not_a_500(app, demo, regulator, flagged):
    for r in (regulator.get(f"/regulator/trainees/{HUGE}/reviews"), regulator.get(f"/regulator/trainees/{HUGE}/trace"),
              regulator.post(f"/regulator/trainees/{HUGE}/reviews", {"conclusion": "watch", "note": NOTE})):
        assert_error(r, 404, "not_found")
    page = web(app, account(demo, "regulator")["username"])
    for r in (page.get(f"/regulator/trainees/{HUGE}/review"),
              page.post(f"/regulator/trainees/{HUGE}/review", data={"conclusion": "watch", "note": NOTE}),
              page.get(f"/regulator/trainees/{HUGE}")):
        assert r.status_code == 404 and "未找到" in r.get_data(as_text=True)
    assert written(app) == (0, 0)
