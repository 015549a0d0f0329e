"""Teacher Q&A and class notices: who may ask, answer and read; the badge count; the ledger; live events
(Flask-SocketIO's test client here; tests/test_qa_socket.py runs the real client against a server)."""
import json

import pytest
from sqlalchemy import select

from models import Institution, LedgerEntry, QaPost
from tracker.accounts.services import create_user
from tracker.extensions import db, socketio

STAFF, REGULATOR = "13900000001", "13900000002"
PASSWORD = "Demo1234"


def trainee(demo, n=0):
    return [a for a in demo["accounts"] if a["role"] == "trainee"][n]


def chapter_id(demo, n=0):
    return demo["classes"][0]["chapters"][n]["chapter_id"]


@pytest.fixture
def outsiders(app, demo):
    """Staff of another institution and a regulator of another region."""
    with app.app_context(), db.transaction() as s:
        inst = Institution(name="北京另一所职业技能培训学校", region_code="110105")
        s.add(inst)
        s.flush()
        create_user(s, role="staff", name="赵老师", password=PASSWORD, phone="13700000001", institution_id=inst.id)
        create_user(s, role="regulator", name="北京科长", password=PASSWORD, phone="13700000002", region_code="110000")
    return "13700000001", "13700000002"


def kinds(app, kind):
    with app.app_context(), db.transaction() as s:
        return [json.loads(e.payload) for e in s.scalars(select(LedgerEntry).where(LedgerEntry.kind == kind))]


def test_a_question_answered_by_staff_is_seen_by_both_and_counted_until_answered(app, demo, api):
    me, staff = api(trainee(demo)["username"]), api(STAFF)
    r = me.post(f"/chapters/{chapter_id(demo)}/qa", {"text": "接地线应该先接哪一端？"})
    assert r.status_code == 201
    thread = r.get_json()
    assert thread["answered"] is False and thread["posts"][0]["text"] == "接地线应该先接哪一端？"
    assert staff.get("/qa/threads").get_json()["unanswered"] == 1

    r = staff.post(f"/qa/threads/{thread['thread_id']}/posts", {"text": "先接接地端，后接导体端。"})
    assert r.status_code == 201 and r.get_json()["author_role"] == "staff"
    assert staff.get("/qa/threads").get_json()["unanswered"] == 0
    seen = me.get(f"/qa/threads/{thread['thread_id']}").get_json()
    assert seen["answered"] is True and [p["author_role"] for p in seen["posts"]] == ["trainee", "staff"]

    # a follow-up by the trainee makes it unanswered again
    assert me.post(f"/qa/threads/{thread['thread_id']}/posts", {"text": "拆除时呢？"}).status_code == 201
    assert staff.get("/qa/threads").get_json()["unanswered"] == 1
    assert staff.get("/qa/threads").get_json()["threads"][0]["answered"] is False

    # the region's regulator reads everything, answers nothing
    regulator = api(REGULATOR)
    assert regulator.get(f"/qa/threads/{thread['thread_id']}").status_code == 200
    assert [t["thread_id"] for t in regulator.get("/qa/threads").get_json()["threads"]] == [thread["thread_id"]]
    assert regulator.post(f"/qa/threads/{thread['thread_id']}/posts", {"text": "x"}).status_code == 403

    assert len(kinds(app, "qa.asked")) == 1 and len(kinds(app, "qa.replied")) == 2
    assert "text_sha256" in kinds(app, "qa.replied")[0]
    # posts are kept as they were: the table refuses changes
    from sqlalchemy import text

    with app.app_context(), pytest.raises(Exception, match="append-only"):
        with db.transaction() as s:
            s.execute(text("UPDATE qa_posts SET body = 'x'"))


def test_qa_denials(app, demo, api, outsiders):
    other_staff, other_regulator = outsiders
    me, them = api(trainee(demo, 0)["username"]), api(trainee(demo, 1)["username"])
    tid = me.post(f"/chapters/{chapter_id(demo)}/qa", {"text": "问题"}).get_json()["thread_id"]
    # another institution's staff neither see nor answer it; nor does another trainee or another region
    for client in (api(other_staff), them, api(other_regulator)):
        assert client.get(f"/qa/threads/{tid}").status_code == 404
        assert client.get("/qa/threads").get_json()["threads"] == []
    assert api(other_staff).post(f"/qa/threads/{tid}/posts", {"text": "我来答"}).status_code == 404
    assert them.post(f"/qa/threads/{tid}/posts", {"text": "我来答"}).status_code == 404
    assert api(other_staff).get("/qa/threads").get_json()["unanswered"] == 0
    # asking on a chapter of someone else's class, or without text
    assert me.post("/chapters/999999/qa", {"text": "问题"}).status_code == 404
    assert me.post(f"/chapters/{chapter_id(demo)}/qa", {"text": "   "}).status_code == 400
    assert me.post(f"/chapters/{chapter_id(demo)}/qa", {"text": "长" * 2001}).status_code == 400
    assert api(STAFF).post(f"/chapters/{chapter_id(demo)}/qa", {"text": "问题"}).status_code == 403
    with app.app_context(), db.transaction() as s:
        assert len(s.scalars(select(QaPost)).all()) == 1


def test_qa_pages_and_the_badge(app, demo):
    from tests.test_access import web_login

    t = web_login(app, trainee(demo)["username"])
    r = t.post(f"/learn/chapters/{chapter_id(demo)}/qa", data={"text": "页面提问"})
    assert r.status_code == 302
    assert "页面提问" in t.get(f"/learn/chapters/{chapter_id(demo)}/qa").get_data(as_text=True)
    staff = web_login(app, STAFF)
    page = staff.get("/qa").get_data(as_text=True)
    assert 'id="qa-badge" class="badge">1<' in page and "页面提问" in page
    with app.app_context(), db.transaction() as s:
        tid = s.scalar(select(QaPost.id))
    assert staff.post(f"/qa/threads/{tid}", data={"text": "页面回答"}).status_code == 302
    assert "页面回答" in t.get(f"/qa/threads/{tid}").get_data(as_text=True)
    assert 'id="qa-badge" class="badge" hidden' in staff.get("/qa").get_data(as_text=True)
    regulator = web_login(app, REGULATOR)
    page = regulator.get(f"/qa/threads/{tid}").get_data(as_text=True)
    assert "页面回答" in page and 'id="reply-form"' not in page
    assert regulator.post(f"/qa/threads/{tid}", data={"text": "x"}).status_code == 403


def test_qa_socket_events_reach_the_thread_the_trainee_and_the_staff(app, demo, api):
    me_token = api(trainee(demo)["username"]).token
    staff_token = api(STAFF).token
    trainee_sock = socketio.test_client(app, namespace="/qa", auth={"token": me_token})
    staff_sock = socketio.test_client(app, namespace="/qa", auth={"token": staff_token})
    assert trainee_sock.is_connected("/qa") and staff_sock.is_connected("/qa")
    assert not socketio.test_client(app, namespace="/qa", auth={"token": "nonsense"}).is_connected("/qa")

    ack = trainee_sock.emit("ask", {"chapter_id": chapter_id(demo), "text": "插座怎么接？"}, namespace="/qa", callback=True)
    assert ack["ok"] is True
    tid = ack["thread"]["thread_id"]
    got = staff_sock.get_received("/qa")
    assert [e["name"] for e in got] == ["qa_post", "qa_unanswered"]
    assert got[0]["args"][0]["new_thread"] is True and got[1]["args"][0]["count"] == 1

    ack = staff_sock.emit("post", {"thread_id": tid, "text": "左零右火。"}, namespace="/qa", callback=True)
    assert ack["ok"] is True
    posts = [e["args"][0] for e in trainee_sock.get_received("/qa") if e["name"] == "qa_post"]
    assert posts[-1]["text"] == "左零右火。" and posts[-1]["author_role"] == "staff"
    assert staff_sock.emit("post", {"thread_id": tid, "text": " "}, namespace="/qa", callback=True)["error"]
    assert staff_sock.emit("watch", {"thread_id": tid}, namespace="/qa", callback=True)["thread"]["answered"] is True
    trainee_sock.disconnect(namespace="/qa")
    staff_sock.disconnect(namespace="/qa")


def test_a_notice_reaches_the_class_room_of_the_player_namespace(app, demo, api, outsiders):
    cid = demo["classes"][0]["class_id"]
    token = api(trainee(demo)["username"]).token
    player = socketio.test_client(app, namespace="/learn", auth={"token": token})
    # the player joins its class's room (integration point of the player; joined by hand here)
    socketio.server.enter_room(player.eio_sid and socketio.server.manager.sid_from_eio_sid(player.eio_sid, "/learn"),
                               f"class:{cid}", namespace="/learn")
    r = api(STAFF).post(f"/classes/{cid}/notices", {"text": "今晚20点直播答疑"})
    assert r.status_code == 201
    got = [e for e in player.get_received("/learn") if e["name"] == "notice"]
    assert got and got[0]["args"][0]["text"] == "今晚20点直播答疑" and got[0]["args"][0]["class_id"] == cid
    assert set(got[0]["args"][0]) >= {"class_id", "text", "at"}
    player.disconnect(namespace="/learn")

    assert api(trainee(demo)["username"]).get(f"/classes/{cid}/notices").get_json()["notices"][0]["text"] == "今晚20点直播答疑"
    assert api(trainee(demo)["username"]).post(f"/classes/{cid}/notices", {"text": "x"}).status_code == 403
    assert api(outsiders[0]).post(f"/classes/{cid}/notices", {"text": "x"}).status_code == 404
    assert api(REGULATOR).post(f"/classes/{cid}/notices", {"text": "x"}).status_code == 403
    assert kinds(app, "notice.sent")[0]["class_id"] == cid


def test_pages_show_beijing_time_and_the_player_shows_the_class_notices(app, demo, api):
    from tests.test_access import web_login
    from tracker.clock import beijing

    t = web_login(app, trainee(demo)["username"])
    assert t.post(f"/learn/chapters/{chapter_id(demo)}/qa", data={"text": "几点了"}).status_code == 302
    cid = demo["classes"][0]["class_id"]
    for n in range(4):
        assert api(STAFF).post(f"/classes/{cid}/notices", {"text": f"公告{n}"}).status_code == 201
    with app.app_context(), db.transaction() as s:
        post = s.scalar(select(QaPost))
        asked = beijing(post.created_ts)
    for page in (t.get(f"/qa/threads/{post.id}"), web_login(app, STAFF).get("/qa")):
        text = page.get_data(as_text=True)
        assert asked in text and "UTC" not in text
    player = t.get(f"/learn/chapters/{chapter_id(demo)}").get_data(as_text=True)
    # the three latest, newest first, and the box the page adds live notices to
    assert 'id="class-notices"' in player and "公告0" not in player
    assert player.index("公告3") < player.index("公告2") < player.index("公告1")
    other = demo["classes"][0]["chapters"][1]["chapter_id"]
    assert "公告3" in t.get(f"/learn/chapters/{other}").get_data(as_text=True)


@pytest.mark.parametrize("event", ["watch", "ask", "post"])
@pytest.mark.parametrize("payload", [None, [1], "x", 7, {"thread_id": 2 ** 70, "chapter_id": 2 ** 70, "text": "问"}])
def test_qa_socket_payloads_that_are_not_an_object_are_answered_with_an_error(app, demo, api, event, payload):
    sock = socketio.test_client(app, namespace="/qa", auth={"token": api(trainee(demo)["username"]).token})
    ack = sock.emit(event, payload, namespace="/qa", callback=True)
    assert ack["error"]["code"] in ("bad_request", "not_found") and ack["error"]["message"]
    sock.disconnect(namespace="/qa")
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(QaPost.id)) is None  # nothing half-written


@pytest.mark.parametrize("payload", [None, [1], "x", {"class_id": 2 ** 70}, {"class_id": "1"}])
def test_the_monitor_refuses_a_watch_it_cannot_read(app, demo, api, payload):
    sock = socketio.test_client(app, namespace="/monitor", auth={"token": api(STAFF).token})
    assert sock.emit("watch", payload, namespace="/monitor", callback=True)["error"]["code"] == "forbidden"
    assert sock.emit("watch", {"class_id": demo["classes"][0]["class_id"]}, namespace="/monitor", callback=True)["ok"]
    sock.disconnect(namespace="/monitor")


def test_a_question_with_control_characters_is_refused_and_nothing_written(app, demo, api):
    r = api(trainee(demo)["username"]).post(f"/chapters/{chapter_id(demo)}/qa", {"text": "漏电\x00保护"})
    assert r.status_code == 400 and "控制字符" in r.get_json()["error"]["message"]
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(QaPost.id)) is None
