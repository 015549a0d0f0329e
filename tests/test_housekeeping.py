"""Periodic work of a serving process: jobs start with the first request and keep running after a failure."""
import threading

from tracker import housekeeping


def test_jobs_start_with_the_first_request_and_survive_failures(app, client, monkeypatch):
    runs, done = [], threading.Event()

    def job(app_):
        runs.append(app_)
        if len(runs) == 1:
            raise RuntimeError("a failing turn must not end the job")
        done.set()

    monkeypatch.setattr(housekeeping, "_JOBS", [("test job", lambda cfg: cfg["TEST_PERIOD"], job),
                                                ("never", lambda cfg: 0, lambda a: runs.append("never"))])
    fresh = app.__class__(app.import_name)
    fresh.config.update(TESTING=False, TEST_PERIOD=0.05)
    housekeeping.init_app(fresh)
    fresh.add_url_rule("/", "index", lambda: "ok")
    assert not runs
    assert fresh.test_client().get("/").status_code == 200
    assert done.wait(30)  # a 0.05 s period: seconds to spare, even on a loaded machine
    assert runs[:2] == [fresh, fresh] and "never" not in runs


def test_the_sweep_closes_finished_live_rooms(app, demo, monkeypatch):
    from datetime import datetime

    from models import LearningSession, LiveLecture, User
    from tracker.extensions import db
    from tracker.learning import sessions
    from tracker.learning.crediting import CST

    start = datetime(2026, 12, 1, 10, 0, tzinfo=CST).timestamp()
    with app.app_context():
        with db.transaction() as s:
            staff = s.get(User, demo["accounts"][0]["user_id"])
            lecture = LiveLecture(class_id=demo["classes"][0]["class_id"], title="t", stream_url="/x.webm",
                                  starts_ts=start, ends_ts=start + 600, created_by=staff.id)
            s.add(lecture)
            s.flush()
            trainee = s.get(User, demo["accounts"][3]["user_id"])
            sess = sessions.start_lecture_session(s, trainee, lecture.id, now=start + 10)
            sid = sess.id
            beat = dict(seq=1, position=0.0, rate=1.0, playing=True, visible=True, focused=True)
            sessions.record_heartbeat(s, sess, sessions.parse_heartbeat(beat), now=start + 600)
        # not silent (a heartbeat at the end), but the lecture is over by more than a heartbeat gap
        monkeypatch.setattr(sessions, "server_now", lambda: start + 600 + 4 * 15 + 5)
        sessions._sweep(app)
        with db.transaction() as s:
            assert s.get(LearningSession, sid).end_reason == "lecture_over"
