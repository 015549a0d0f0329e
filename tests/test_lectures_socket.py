"""A live lecture's room over Socket.IO (join, heartbeat, leave) with the python-socketio client and a real server."""
import threading
import time
from datetime import datetime

import pytest
import requests
import socketio

from tests.live import LiveServer
from tracker.learning.crediting import CST

INTERVAL = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_videos):
    srv = LiveServer(tmp_path_factory.mktemp("live-lecture"), demo_videos, photo_checks=False,
                     TRACKER_HEARTBEAT_INTERVAL=INTERVAL, TRACKER_ATTENTION_MEAN=0)
    yield srv
    srv.stop()


def connect(server, token):
    client = socketio.Client(reconnection=False)
    client.connect(server.url, namespaces=["/learn"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


def close(client):
    threading.Thread(target=client.disconnect, daemon=True).start()


def beat(session_id, seq):
    return dict(session_id=session_id, seq=seq, position=0.0, rate=1.0, playing=True, visible=True, focused=True,
                client_time=time.time(), env={"ua": "python-socketio"})


def at(ts):
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


def received(server, session_id):
    """The server's receive time of each heartbeat of a session, by sequence number."""
    return dict(server.sql(f"SELECT seq, received_ts FROM heartbeats WHERE session_id = {int(session_id)}"))


def test_presence_in_the_room_is_credited_and_survives_a_dropped_connection(server):
    staff = server.token(server.account("staff")["username"])
    class_id = server.demo["classes"][0]["class_id"]
    auth = {"Authorization": "Bearer " + staff}
    token = server.token(server.account("trainee", 0)["username"])
    monitor, seen = socketio.Client(reconnection=False), []
    monitor.on("learner", seen.append, namespace="/monitor")
    monitor.connect(server.url, namespaces=["/monitor"], auth={"token": staff}, transports=["websocket"], wait_timeout=10)
    assert monitor.call("watch", {"class_id": class_id}, namespace="/monitor", timeout=10)["ok"]
    # Everything slow (logins, the monitor) is done before the lecture is scheduled: the countdown only has to
    # outlast scheduling, one connection, the join and two heartbeats, whatever the machine's load.
    starts = int(time.time()) + 6
    r = requests.post(f"{server.url}/api/v1/classes/{class_id}/lectures", timeout=10,
                      headers=auth, json={"title": "直播答疑", "stream_url": "https://live.example.cn/a.m3u8",
                            "starts_at": at(starts), "ends_at": at(starts + 600)})
    assert r.status_code == 201, r.text
    lecture_id = r.json()["lecture_id"]
    client = connect(server, token)
    try:
        joined = client.call("live_join", {"lecture_id": lecture_id}, namespace="/learn", timeout=10)
        assert joined["lecture_id"] == lecture_id and joined["starts_in_seconds"] > 0, joined
        sid, answers = joined["session_id"], []
        answers.append(client.call("heartbeat", beat(sid, 1), namespace="/learn", timeout=10))
        time.sleep(0.5)
        answers.append(client.call("heartbeat", beat(sid, 2), namespace="/learn", timeout=10))  # still before the start
        time.sleep(max(0.0, starts + 0.5 - time.time()))
        for seq in (3, 4):  # the lecture is live
            answers.append(client.call("heartbeat", beat(sid, seq), namespace="/learn", timeout=10))
            time.sleep(INTERVAL)
    finally:
        close(client)
    # the connection dropped; the session goes on from a new one, nothing of the stretch lost
    time.sleep(0.5)
    client = connect(server, token)
    try:
        for seq in range(5, 8):  # the first at once: the stretch across the drop stays well inside max_gap (8 s)
            answers.append(client.call("heartbeat", beat(sid, seq), namespace="/learn", timeout=10))
            time.sleep(INTERVAL if seq < 7 else 0)
        last = time.time()
        totals = client.call("live_leave", {"session_id": sid}, namespace="/learn", timeout=10)
        after = client.call("heartbeat", beat(sid, 8), namespace="/learn", timeout=10)
        outsider = client.call("live_join", {"lecture_id": 999999}, namespace="/learn", timeout=10)
    finally:
        close(client)
    at_server = received(server, sid)
    assert answers[0]["reasons"] == ["baseline"]
    assert "not_live" in answers[1]["reasons"] and at_server[2] < starts  # before the start: recorded, not credited
    credited = answers[-1]["lecture_credited_seconds"]
    # every second from the start to the last heartbeat, as the server's clock measured it; never beyond it
    assert credited == pytest.approx(at_server[7] - starts, abs=0.01), (answers, at_server)
    assert credited <= last - starts
    # the first heartbeat after reconnecting earns the whole stretch across the dropped connection
    assert answers[4]["credited_seconds"] == pytest.approx(at_server[5] - at_server[4], abs=0.01), (answers, at_server)
    assert totals["status"] == "ended" and totals["end_reason"] == "left" and totals["lecture_id"] == lecture_id
    assert after["credited_seconds"] == 0 and after["session_active"] is False
    assert outsider["error"]["code"] == "not_enrolled"
    # staff watching the class saw the trainee in the lecture's room, then leave it (events arrive on their own thread)
    deadline = time.time() + 15
    while not (seen and seen[-1]["status"] == "ended") and time.time() < deadline:
        time.sleep(0.05)
    close(monitor)
    assert {e["lecture_id"] for e in seen} == {lecture_id} and seen[-1]["status"] == "ended"
    assert any(e["status"] == "playing" and e["session_credited_seconds"] > 0 for e in seen)
    report = requests.get(f"{server.url}/api/v1/lectures/{lecture_id}/attendance", timeout=10, headers=auth).json()
    mine = next(a for a in report["attendance"] if a["trainee_id"] == server.account("trainee", 0)["user_id"])
    assert mine["credited_seconds"] == pytest.approx(credited, abs=0.2) and mine["sessions"] == 1
