"""A server killed (SIGKILL) while trainees' heartbeats pour in loses nothing it acknowledged.

The process gets no chance to clean up, as under a power cut or the OOM killer. Every heartbeat a
client was answered for must be in the database with that same answer, the sessions' totals must
agree with their rows (a batch is written whole or not at all), the ledger must still verify, and a
new process on the same database must take the sessions up where they were: a resent heartbeat that
was recorded before the kill gets its recorded answer and is not credited twice.
"""
import json
import threading
import time

import pytest
import requests

from tests.live import LiveServer

# A heartbeat gap may last 4 intervals (60 s). The gap across the kill spans the checks below, `tracker ledger
# verify` and the new server's start: a few seconds, or many more on a loaded machine, and always well inside it.
INTERVAL = 15
TRAINEES = 3


@pytest.fixture
def server(tmp_path, demo_videos):
    srv = LiveServer(tmp_path, demo_videos, photo_checks=False, TRACKER_HEARTBEAT_INTERVAL=INTERVAL,
                     TRACKER_ATTENTION_MEAN=0)
    yield srv
    srv.stop()


def beat(seq, position):
    return dict(seq=seq, position=position, rate=1.0, playing=True, visible=True, focused=True,
                client_time=time.time(), env={"ua": "python-requests"})


class Learner(threading.Thread):
    """Sends heartbeats back to back until the server stops answering; keeps what it was told."""

    def __init__(self, server, n, chapter_id):
        super().__init__(daemon=True)
        self.url, self.auth = server.url, {"Authorization": "Bearer " + server.token(server.account("trainee", n)["username"])}
        r = requests.post(f"{self.url}/api/v1/sessions", json={"chapter_id": chapter_id}, headers=self.auth, timeout=10)
        assert r.status_code == 201, r.text
        self.session_id, self.t0 = r.json()["session_id"], time.time()
        self.acked, self.in_flight = {}, None

    def send(self, seq):
        r = requests.post(f"{self.url}/api/v1/sessions/{self.session_id}/heartbeats", headers=self.auth, timeout=10,
                          json=beat(seq, round(time.time() - self.t0, 3)))
        assert r.status_code == 200, r.text
        return r.json()

    def run(self):
        seq = 0
        while True:
            seq += 1
            self.in_flight = seq
            try:
                self.acked[seq] = self.send(seq)
            except requests.RequestException:
                return
            self.in_flight = None


def stored(server, session_id):
    return server.sql(f"SELECT seq, answer FROM heartbeats WHERE session_id = {int(session_id)} ORDER BY seq")


def test_a_killed_server_loses_no_acknowledged_heartbeat_and_takes_the_sessions_up_again(server):
    chapter_id = server.demo["classes"][0]["chapters"][1]["chapter_id"]
    learners = [Learner(server, n, chapter_id) for n in range(TRAINEES)]
    for learner in learners:
        learner.start()
    deadline = time.time() + 90
    while min(len(x.acked) for x in learners) < 30 and time.time() < deadline:
        time.sleep(0.05)
    server.crash()
    for learner in learners:
        learner.join(15)
        assert not learner.is_alive() and len(learner.acked) >= 30

    for learner in learners:
        rows = stored(server, learner.session_id)
        seqs = [seq for seq, _ in rows]
        assert seqs == list(range(1, len(rows) + 1))  # in order, no hole
        last_acked = max(learner.acked)
        assert last_acked <= len(rows) <= last_acked + 1  # at most the one in flight recorded unanswered
        answers = {seq: json.loads(answer) for seq, answer in rows}
        for seq, answer in learner.acked.items():
            assert answers[seq] == answer
        credited, beats = server.sql(
            f"SELECT credited_seconds, beats FROM learning_sessions WHERE id = {learner.session_id}")[0]
        assert beats == len(rows)
        assert credited == pytest.approx(answers[len(rows)]["session_credited_seconds"], abs=1e-3)
        assert credited > 0
    verify = server.tracker("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    server.restart()
    for learner in learners:
        before = {seq: json.loads(answer) for seq, answer in stored(server, learner.session_id)}
        seq = learner.in_flight
        resent = learner.send(seq)  # the client resends what was never answered
        if seq in before:
            assert resent == before[seq]  # recorded before the kill: the same answer, no second credit
        else:
            assert resent["seq"] == seq
    time.sleep(2)  # a stretch to credit after the resend
    for learner in learners:
        seq = learner.in_flight + 1
        after = learner.send(seq)
        assert after["session_active"] is True and after["credited_seconds"] > 0, after
        r = requests.post(f"{learner.url}/api/v1/sessions/{learner.session_id}/end", headers=learner.auth, timeout=10)
        assert r.status_code == 200, r.text
        totals = r.json()
        assert totals["heartbeats"] == seq and totals["credited_seconds"] == pytest.approx(
            after["session_credited_seconds"], abs=1e-3)

    unsealed = server.sql("SELECT count(*) FROM heartbeats h JOIN learning_sessions s ON s.id = h.session_id "
                          "WHERE h.id > s.sealed_upto_id")[0][0]
    assert unsealed == 0
    verify = server.tracker("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
