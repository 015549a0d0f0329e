"""Teacher Q&A live with the official python-socketio client against a running server: the trainee asks, a
staff client answers over the socket, the trainee's client receives the answer; the badge follows."""
import queue
import threading

import pytest
import requests
import socketio

from tests.live import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_videos):
    srv = LiveServer(tmp_path_factory.mktemp("live-qa"), demo_videos)
    yield srv
    srv.stop()


def close(client):
    threading.Thread(target=client.disconnect, daemon=True).start()


def connect(server, token, inbox):
    client = socketio.Client(reconnection=False)
    for event in ("qa_post", "qa_unanswered"):
        client.on(event, lambda data, event=event: inbox.put((event, data)), namespace="/qa")
    client.connect(server.url, namespaces=["/qa"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


def wait_for(inbox, event, where=lambda data: True, timeout=30):
    while True:
        name, data = inbox.get(timeout=timeout)
        if name == event and where(data):
            return data


def test_staff_answer_reaches_the_trainee_live(server):
    trainee, staff = server.account("trainee", 0), server.account("staff")
    trainee_token, staff_token = server.token(trainee["username"]), server.token(staff["username"])
    chapter_id = server.demo["classes"][0]["chapters"][0]["chapter_id"]
    trainee_inbox, staff_inbox = queue.Queue(), queue.Queue()
    trainee_client = connect(server, trainee_token, trainee_inbox)
    staff_client = connect(server, staff_token, staff_inbox)
    try:
        # the trainee asks over HTTP; the staff client hears of the new question and the badge count
        r = requests.post(f"{server.url}/api/v1/chapters/{chapter_id}/qa", json={"text": "漏电保护器多久试验一次？"},
                          headers={"Authorization": "Bearer " + trainee_token}, timeout=10)
        assert r.status_code == 201, r.text
        thread_id = r.json()["thread_id"]
        new = wait_for(staff_inbox, "qa_post")
        assert new["thread_id"] == thread_id and new["new_thread"] is True
        assert new["chapter"] == server.demo["classes"][0]["chapters"][0]["title"]
        assert wait_for(staff_inbox, "qa_unanswered")["count"] == 1

        # the staff client answers over the socket; the trainee's client receives it
        ack = staff_client.call("post", {"thread_id": thread_id, "text": "每月按试验按钮试验一次。"}, namespace="/qa", timeout=10)
        assert ack["ok"] is True, ack
        own = wait_for(trainee_inbox, "qa_post")  # the trainee's own question came back first
        assert own["author_role"] == "trainee"
        got = wait_for(trainee_inbox, "qa_post")
        assert got["thread_id"] == thread_id and got["text"] == "每月按试验按钮试验一次。"
        assert got["author_role"] == "staff" and got["author"] == "王老师"
        assert wait_for(staff_inbox, "qa_unanswered")["count"] == 0

        # the trainee's follow-up through the socket reaches the staff client watching the thread
        assert staff_client.call("watch", {"thread_id": thread_id}, namespace="/qa", timeout=10)["ok"] is True
        assert trainee_client.call("post", {"thread_id": thread_id, "text": "谢谢老师"}, namespace="/qa", timeout=10)["ok"]
        assert wait_for(staff_inbox, "qa_post", lambda p: p["author_role"] == "trainee")["text"] == "谢谢老师"
    finally:
        close(trainee_client)
        close(staff_client)

    thread = requests.get(f"{server.url}/api/v1/qa/threads/{thread_id}", headers={"Authorization": "Bearer " + staff_token},
                          timeout=10).json()
    assert [p["text"] for p in thread["posts"]] == ["漏电保护器多久试验一次？", "每月按试验按钮试验一次。", "谢谢老师"]


def test_the_qa_namespace_refuses_strangers(server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, namespaces=["/qa"], auth={"token": "forged"}, transports=["websocket"], wait_timeout=5)
    close(client)
