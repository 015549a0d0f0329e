"""Periodic work of a serving process (signing checkpoints, closing silent sessions and finished live rooms).

Started with the first request the process answers, never in the CLI or in tests; each job runs on its own
background task, and a job that fails is logged and tried again at its next turn.
"""
import logging
import threading

log = logging.getLogger(__name__)
_JOBS = []  # (name, seconds(config) -> float, job(app))


def every(name, seconds):
    """Register `job(app)` to run every `seconds(app.config)` seconds (0 or less: never)."""
    def register(job):
        _JOBS.append((name, seconds, job))
        return job
    return register


def init_app(app):
    state = {"started": False, "lock": threading.Lock()}

    @app.before_request
    def _start_jobs():
        if state["started"] or app.config.get("TESTING"):
            return
        with state["lock"]:
            if state["started"]:
                return
            state["started"] = True
        from tracker.extensions import socketio

        for name, seconds, job in _JOBS:
            period = float(seconds(app.config))
            if period > 0:
                socketio.start_background_task(_loop, app, name, period, job)


def _loop(app, name, period, job):
    from tracker.extensions import socketio

    while True:
        socketio.sleep(period)
        try:
            with app.app_context():
                job(app)
        except Exception:
            log.exception("housekeeping: %s", name)
