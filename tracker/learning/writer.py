"""The heartbeat writer: one thread per process applies heartbeats in batches, one transaction for many.

Heartbeats are the platform's high-rate evidence. Applying each in its own transaction makes every request
wait for the database's write lock (SQLite) and pay a commit; here a batch of whatever has arrived shares
one transaction, and each heartbeat is still decided in arrival order with the same rule and recorded with
its answer before anyone is told. If a batch fails, its heartbeats are applied one by one, so one bad
heartbeat cannot cost the others; a heartbeat whose caller gave up waiting is still recorded, and the
client's resend gets the recorded answer.
"""
import logging
import queue
import threading

from models import LearningSession
from tracker.accounts.rules import RuleError
from tracker.extensions import db
from tracker.learning import events, sessions

log = logging.getLogger(__name__)
MAX_BATCH = 256
WAIT_SECONDS = 15


class _Item:
    __slots__ = ("session_id", "trainee_id", "beat", "answer", "error", "done")

    def __init__(self, session_id, trainee_id, beat):
        self.session_id, self.trainee_id, self.beat = session_id, trainee_id, beat
        self.answer = self.error = None
        self.done = threading.Event()


class HeartbeatWriter:
    def __init__(self, app):
        self.app = app
        self.queue = queue.Queue()
        self._thread = None
        self._start_lock = threading.Lock()

    def submit(self, session_id, trainee_id, beat):
        """Apply one heartbeat (already validated) and return the answer; RuleError for the caller's mistakes."""
        item = _Item(session_id, trainee_id, beat)
        self._ensure_thread()
        self.queue.put(item)
        if not item.done.wait(WAIT_SECONDS):
            raise RuleError("busy", "服务器繁忙，心跳已排队，请稍后重发", status=503)
        if item.error is not None:
            raise item.error
        return item.answer

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="heartbeat-writer", daemon=True)
                    self._thread.start()

    def _run(self):
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.app.app_context():
                    if not self._apply(batch) and len(batch) > 1:
                        for item in batch:
                            self._apply([item])
            except Exception:  # the thread must live on; the callers are told below
                log.exception("heartbeat writer")
            for item in batch:
                if item.answer is None and item.error is None:
                    item.error = RuleError("server_error", "服务器暂时无法记录心跳，请稍后重发", status=503)
                item.done.set()

    def _apply(self, batch):
        """One transaction for the batch; False (and nothing written) if it failed."""
        s = db.session
        try:
            loaded = sessions.preload_for_heartbeats(s, {item.session_id for item in batch}, sessions.server_now())  # noqa: F841
            for item in batch:
                sess = s.get(LearningSession, item.session_id)
                if sess is None or sess.trainee_id != item.trainee_id:  # nothing written for this one
                    item.error = RuleError("not_found", "学习会话不存在", status=404)
                    continue
                item.answer = sessions.record_heartbeat(s, sess, item.beat)
            events.commit(s)
            return True
        except Exception:
            log.exception("heartbeat batch of %d failed", len(batch))
            s.rollback()
            events.discard(s)
            for item in batch:
                item.answer = item.error = None
            return False
        finally:
            db.session.remove()


def writer(app):
    w = app.extensions.get("heartbeat_writer")
    if w is None:
        w = app.extensions["heartbeat_writer"] = HeartbeatWriter(app)
    return w
