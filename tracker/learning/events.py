"""Socket.IO events caused by learning: queued on the DB session and sent only after it commits."""
import logging

from tracker.extensions import socketio

LEARN, MONITOR = "/learn", "/monitor"
log = logging.getLogger(__name__)


def queue(s, event, data, room, namespace):
    s.info.setdefault("pending_events", []).append((event, data, room, namespace))


def commit(s):
    """Commit, then tell the sockets: nobody hears of a change that was rolled back."""
    s.commit()
    for event, data, room, namespace in s.info.pop("pending_events", []):
        try:
            socketio.emit(event, data, to=room, namespace=namespace)
        except Exception:  # a socket problem must never undo recorded learning
            log.exception("could not emit %s", event)


def discard(s):
    s.info.pop("pending_events", None)


def learner_status(sess, beat=None):
    if sess.status != "active":
        return "ended"
    if sess.block_reason == "check_pending":
        return "check_pending"
    if sess.blocked_since is not None:
        return "check_failed"
    if beat is None:
        return "active"
    if not (beat["visible"] and beat["focused"]):
        return "hidden"
    return "playing" if beat["playing"] else "paused"


def learner_update(s, sess, beat=None, answer=None):
    queue(s, "learner", {
        "session_id": sess.id, "trainee_id": sess.trainee_id, "chapter_id": sess.chapter_id, "lecture_id": sess.lecture_id,
        "position": beat["position"] if beat else sess.last_position,
        "last_beat_ts": sess.last_beat_ts, "status": learner_status(sess, beat),
        "session_credited_seconds": round(sess.credited_seconds, 1),
        "reasons": answer["reasons"] if answer else [],
    }, f"class:{sess.class_id}", MONITOR)


def check_asked(s, sess, event, payload):
    queue(s, event, payload, f"session:{sess.id}", LEARN)


def session_ended(s, sess, reason):
    queue(s, "session_ended", {"session_id": sess.id, "reason": reason}, f"session:{sess.id}", LEARN)
    learner_update(s, sess)
