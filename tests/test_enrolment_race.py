"""Two accounts enrolling one face at the same instant: exactly one gets through, the other is refused and flagged.

The search for the same face under another ID and the insert are serialised (tracker.proctoring.services.
lock_enrolments): on SQLite by BEGIN IMMEDIATE, on PostgreSQL (TRACKER_DATABASE_URL) by an advisory lock. The
faces are real (face_recognition on two photos of one man, analysed once in this process); the search is slowed
down so that, unserialised, both enrolments would be inside it together, as the control test shows on PostgreSQL.
"""
import io
import threading
import time

import pytest
from sqlalchemy import select

from models import FaceEnrolment, FaceFlag
from tests.conftest import PG_URL, register_payload
from tests.test_faces import FACES, analysed, face_file
from tracker.extensions import db
from tracker.ledger.services import verify
from tracker.proctoring import faces, services

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is not beside this checkout")


@pytest.fixture
def two_trainees(app, api):
    """Two registered trainees (with face consent): [(token, user id)] ."""
    out = []
    for _ in range(2):
        data = register_payload()
        r = api().post("/auth/register", data)
        assert r.status_code == 201, r.get_json()
        out.append((api(data["phone"], data["password"]).token, r.get_json()["user_id"]))
    return out


@pytest.fixture
def faces_in_process(monkeypatch):
    """The real analysis of each photo, done once here instead of in the worker pool (it is not what races)."""
    monkeypatch.setattr(services, "analyse", lambda fn, data: analysed(data))


def enrol_together(app, trainees, photos):
    """Both enrolments sent at the same instant, each from its own thread and client: [(status, body)]."""
    barrier, answers, errors = threading.Barrier(len(trainees)), [None] * len(trainees), []

    def post(i):
        try:
            client = app.test_client()
            barrier.wait(10)
            r = client.post("/api/v1/me/face", data={"image": (io.BytesIO(photos[i]), "photo.jpg")},
                            headers={"Authorization": f"Bearer {trainees[i][0]}"}, content_type="multipart/form-data")
            answers[i] = (r.status_code, r.get_json())
        except BaseException as e:  # reported below; a thread's exception would otherwise be lost
            errors.append(e)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(trainees))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return answers


def test_one_face_enrolled_by_two_accounts_at_once_gets_through_once(app, two_trainees, faces_in_process, monkeypatch):
    photos = [face_file("obama"), face_file("obama2")]
    assert faces.face_distance(faces.to_bytes(analysed(photos[0])["encoding"]), analysed(photos[1])["encoding"]) <= 0.5
    inside, most = [0], [0]
    lock = threading.Lock()
    closest = faces.closest

    def slow_closest(*args):
        """The search, held open long enough for the other enrolment to arrive while it runs."""
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.8)
        with lock:
            inside[0] -= 1
        return closest(*args)

    monkeypatch.setattr(faces, "closest", slow_closest)
    answers = enrol_together(app, two_trainees, photos)
    assert sorted(status for status, _ in answers) == [201, 409], answers
    assert most[0] == 1  # one search at a time
    refused = next(body for status, body in answers if status == 409)
    assert refused["error"]["code"] == "face_already_enrolled"
    ids = [uid for _, uid in two_trainees]
    winner = ids[[status for status, _ in answers].index(201)]
    loser = ids[[status for status, _ in answers].index(409)]
    with app.app_context():
        s = db.session
        assert s.scalars(select(FaceEnrolment.trainee_id).where(FaceEnrolment.trainee_id.in_(ids))).all() == [winner]
        [flag] = s.scalars(select(FaceFlag)).all()
        assert (flag.kind, flag.trainee_id, flag.other_trainee_id) == ("proxy_suspected", loser, winner)
        assert verify(s)["first_bad_seq"] is None


@pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="SQLite serialises writers whatever the code does")
def test_control_without_the_lock_both_would_get_through(app, two_trainees, faces_in_process, monkeypatch):
    """The window is real: with lock_enrolments made a no-op, both searches run together (a barrier inside the
    search proves it) and both accounts enrol the same face. This is what the lock prevents."""
    monkeypatch.setattr(services, "lock_enrolments", lambda s: None)
    together = threading.Barrier(2)
    closest = faces.closest

    def meeting_closest(*args):
        together.wait(10)  # both searches are running at once, neither has committed
        return closest(*args)

    monkeypatch.setattr(faces, "closest", meeting_closest)
    answers = enrol_together(app, two_trainees, [face_file("obama"), face_file("obama2")])
    assert [status for status, _ in answers] == [201, 201], answers
