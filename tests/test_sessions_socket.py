"""The heartbeat stream over Socket.IO with the official python-socketio client against a running server.

The server's clock runs 30 times faster than real time, so a 3-minute session takes 6 real seconds;
the client claims video positions on the server's time scale.
"""
import threading
import time

import pytest
import socketio

from tests.live import LiveServer

SCALE = 30.0
INTERVAL = 15


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_videos):
    srv = LiveServer(tmp_path_factory.mktemp("live-socket"), demo_videos, photo_checks=False, TRACKER_CLOCK_SCALE=SCALE,
                     TRACKER_HEARTBEAT_INTERVAL=INTERVAL, TRACKER_ATTENTION_MEAN=0)
    yield srv
    srv.stop()


def close(client):
    # websocket-client waits up to 3 s for the closing handshake; nothing in these tests depends on it.
    threading.Thread(target=client.disconnect, daemon=True).start()


def connect(server, token):
    client = socketio.Client(reconnection=False)
    client.connect(server.url, namespaces=["/learn"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


def start(server, token, chapter_id):
    import requests

    r = requests.post(server.url + "/api/v1/sessions", json={"chapter_id": chapter_id},
                      headers={"Authorization": "Bearer " + token}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def beat(session_id, seq, position, **flags):
    data = dict(session_id=session_id, seq=seq, position=position, rate=1.0, playing=True, visible=True, focused=True,
                client_time=time.time(), env={"ua": "python-socketio", "webdriver": False})
    data.update(flags)
    return data


def stream(client, session_id, positions, real_gap, paced=False):
    """One heartbeat per position, `real_gap` apart: after each answer, or (paced) on a fixed schedule from the
    first, so that slow answers on a loaded machine do not stretch the whole stream out."""
    answers, t0 = [], time.time()
    for seq, pos in enumerate(positions, 1):
        answers.append(client.call("heartbeat", beat(session_id, seq, pos), namespace="/learn", timeout=10))
        time.sleep(max(0.0, t0 + seq * real_gap - time.time()) if paced else real_gap)
    return answers


def chapter(server, n):
    return server.demo["classes"][0]["chapters"][n]["chapter_id"]


def test_honest_three_minute_session_earns_its_time(server):
    token = server.token(server.account("trainee", 0)["username"])
    s = start(server, token, chapter(server, 1))  # 180 s chapter
    client = connect(server, token)
    try:
        t0 = time.time()
        answers = stream(client, s["session_id"], [i * 15.0 for i in range(13)], INTERVAL / SCALE)
        server_elapsed = (time.time() - t0) * SCALE
    finally:
        close(client)
    credited = answers[-1]["session_credited_seconds"]
    assert answers[0]["reasons"] == ["baseline"]
    assert credited >= 180 - INTERVAL, answers
    assert credited <= min(180, server_elapsed)
    # a repeated heartbeat gets the first answer again and earns nothing more
    client = connect(server, token)
    try:
        again = client.call("heartbeat", beat(s["session_id"], 5, 60.0), namespace="/learn", timeout=10)
    finally:
        close(client)
    assert again == answers[4]


def test_heartbeats_twice_as_fast_as_real_time_earn_no_more_than_real_time(server):
    token = server.token(server.account("trainee", 1)["username"])
    s = start(server, token, chapter(server, 1))
    client = connect(server, token)
    try:
        t0 = time.time()
        # every 7.5 server-seconds the script claims 15 s of video: 165 s claimed in 82.5 s
        answers = stream(client, s["session_id"], [i * 15.0 for i in range(12)], INTERVAL / SCALE / 2, paced=True)
        server_elapsed = (time.time() - t0) * SCALE
    finally:
        close(client)
    credited = answers[-1]["session_credited_seconds"]
    assert credited <= server_elapsed + 0.5
    # no more than the server's clock ran from the first heartbeat to the last
    (span,), = server.sql(f"SELECT max(received_ts) - min(received_ts) FROM heartbeats WHERE session_id = {s['session_id']}")
    assert credited <= span + 0.01, (credited, span)
    assert credited < 11 * 15 * 0.75
    assert any("position_jump" in a["reasons"] or "clock_budget" in a["reasons"] for a in answers)


def test_positions_jumping_ahead_earn_no_more_than_real_time(server):
    token = server.token(server.account("trainee", 2)["username"])
    s = start(server, token, chapter(server, 0))  # 150 s chapter
    client = connect(server, token)
    try:
        t0 = time.time()
        answers = stream(client, s["session_id"], [0.0, 15.0, 100.0, 115.0, 130.0, 145.0], INTERVAL / SCALE)
        server_elapsed = (time.time() - t0) * SCALE
    finally:
        close(client)
    assert "position_jump" in answers[2]["reasons"]
    assert "beyond_furthest" in answers[3]["reasons"]
    credited = answers[-1]["session_credited_seconds"]
    assert credited <= 15 + 1e-6  # only the first real stretch; everything after the jump is refused
    assert credited <= server_elapsed


def test_second_device_ends_the_first_session(server):
    import requests

    username = server.account("trainee", 0)["username"]
    token = server.token(username)
    first = start(server, token, chapter(server, 0))
    ended = []
    client = connect(server, token)
    client.on("session_ended", ended.append, namespace="/learn")
    try:
        assert client.call("join", {"session_id": first["session_id"]}, namespace="/learn", timeout=10)["ok"]
        second = start(server, server.token(username), chapter(server, 0))
        deadline = time.time() + 15  # the event comes on the client's own thread; on a loaded machine, late
        while not ended and time.time() < deadline:
            time.sleep(0.05)
        answer = client.call("heartbeat", beat(first["session_id"], 1, 0.0), namespace="/learn", timeout=10)
    finally:
        close(client)
    assert ended and ended[0] == {"session_id": first["session_id"], "reason": "replaced"}
    assert answer["session_active"] is False and answer["credited_seconds"] == 0
    assert "session_inactive" in answer["reasons"]
    r = requests.post(f"{server.url}/api/v1/sessions/{second['session_id']}/end",
                      headers={"Authorization": "Bearer " + token}, timeout=10)
    assert r.status_code == 200


def test_socket_refuses_strangers_and_other_trainees_sessions(server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        c = socketio.Client(reconnection=False)
        c.connect(server.url, namespaces=["/learn"], auth={"token": "not-a-token"}, transports=["websocket"], wait_timeout=5)
    owner = server.token(server.account("trainee", 1)["username"])
    s = start(server, owner, chapter(server, 0))
    intruder = connect(server, server.token(server.account("trainee", 2)["username"]))
    try:
        answer = intruder.call("heartbeat", beat(s["session_id"], 1, 0.0), namespace="/learn", timeout=10)
        joined = intruder.call("join", {"session_id": s["session_id"]}, namespace="/learn", timeout=10)
        bad = intruder.call("heartbeat", {"session_id": s["session_id"], "seq": "x"}, namespace="/learn", timeout=10)
    finally:
        close(intruder)
    assert answer["error"]["code"] == "not_found"
    assert joined["error"]["code"] == "not_found"
    assert bad["error"]["code"] == "invalid_field"


def test_staff_monitor_sees_learners_live(server):
    staff = server.token(server.account("staff")["username"])
    trainee = server.token(server.account("trainee", 2)["username"])
    class_id = server.demo["classes"][0]["class_id"]
    updates = []
    mon = socketio.Client(reconnection=False)
    mon.on("learner", lambda d: updates.append(d), namespace="/monitor")
    mon.connect(server.url, namespaces=["/monitor"], auth={"token": staff}, transports=["websocket"], wait_timeout=10)
    try:
        assert mon.call("watch", {"class_id": class_id}, namespace="/monitor", timeout=10)["ok"]
        s = start(server, trainee, chapter(server, 0))
        client = connect(server, trainee)
        try:
            client.call("heartbeat", beat(s["session_id"], 1, 0.0), namespace="/learn", timeout=10)
            client.call("heartbeat", beat(s["session_id"], 2, 1.0, playing=False), namespace="/learn", timeout=10)
        finally:
            close(client)
        deadline = time.time() + 15
        while len([u for u in updates if u["session_id"] == s["session_id"]]) < 3 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        close(mon)
    mine = [u for u in updates if u["session_id"] == s["session_id"]]
    assert [u["status"] for u in mine][-2:] == ["playing", "paused"]
    # a trainee may not open the monitor
    with pytest.raises(socketio.exceptions.ConnectionError):
        c = socketio.Client(reconnection=False)
        c.connect(server.url, namespaces=["/monitor"], auth={"token": trainee}, transports=["websocket"], wait_timeout=5)
