"""Proctoring (实名验证, 人脸识别, 过程拍照): face enrolment, photo-check verdicts, proxy-learning flags."""
import os


def init_app(app):
    """Configuration of the face work (TRACKER_FACE_*, from the environment unless given) and the pages."""
    from tracker.proctoring import routes
    from tracker.proctoring.workers import default_workers

    env = os.environ.get
    app.config.setdefault("TRACKER_FACE_WORKERS", int(env("TRACKER_FACE_WORKERS", default_workers())))
    app.config.setdefault("TRACKER_FACE_QUEUE", int(env("TRACKER_FACE_QUEUE", 0)) or None)
    app.config.setdefault("TRACKER_FACE_WAIT", float(env("TRACKER_FACE_WAIT", 30)))
    app.config.setdefault("TRACKER_FACE_REPLAY_BITS", int(env("TRACKER_FACE_REPLAY_BITS", 10)))
    app.register_blueprint(routes.bp)
