"""Socket.IO namespaces: /learn for the player (heartbeats, prompts), /monitor for staff watching a class."""
from flask import current_app, request
from flask_socketio import Namespace, join_room
from sqlalchemy import select

from models import LearningSession, TrainingClass, User
from tracker.accounts.rules import RuleError
from tracker.db import valid_id
from tracker.extensions import db
from tracker.learning import checks, events, sessions
from tracker.learning.writer import writer
from tracker.security import can_view_class, user_for_cookie, user_for_token


def _socket_user(auth):
    """The same credentials as HTTP: a bearer token in the auth payload, or the browser's session cookie, which
    counts only while its server-side login session is live (a cookie copied before logout is refused)."""
    s = db.session
    fresh = not s().in_transaction()
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return user_for_token(s, auth["token"], touch=fresh)
    return user_for_cookie(s, touch=fresh)


def _error(e):
    return {"error": {"code": e.code, "message": e.message}}


def _session_id(data):
    """The session_id of an event's payload; TypeError/ValueError (answered as not found) when there is none that
    can exist: a payload that is not an object, no number, or one too large for the database (an overflow)."""
    if not isinstance(data, dict):
        raise TypeError("payload is not an object")
    try:
        sid = int(data.get("session_id", 0))
    except OverflowError:  # Infinity: JSON as Python reads it
        raise ValueError("no such session id") from None
    if not valid_id(sid):
        raise ValueError("no such session id")
    return sid


class LearnNamespace(Namespace):
    def __init__(self):
        super().__init__(events.LEARN)
        self.users = {}  # sid -> trainee id

    def on_connect(self, auth=None):
        user = _socket_user(auth)
        if user is None or user.role != "trainee":
            raise ConnectionRefusedError("unauthorized")
        self.users[request.sid] = user.id

    def on_disconnect(self, reason=None):
        self.users.pop(request.sid, None)

    def on_join(self, data):
        """Listen for prompts and the end of a session this trainee owns."""
        s = db.session
        try:
            sess = sessions.lock_session(s, _session_id(data), self.users.get(request.sid))
        except (RuleError, TypeError, ValueError):
            s.rollback()
            return {"error": {"code": "not_found", "message": "学习会话不存在"}}
        s.rollback()
        join_room(f"session:{sess.id}")
        join_room(f"class:{sess.class_id}")  # the class's notices (公告) reach the player
        return {"ok": True, "status": sess.status}

    def on_live_join(self, data):
        """Enter a live lecture's room: {lecture_id} → the session to send heartbeats on (as POST
        /lectures/<id>/sessions). Presence is then the heartbeat stream; a dropped connection loses nothing,
        the session goes on when it comes back within the gap a heartbeat may leave."""
        s = db.session
        try:
            if not isinstance(data, dict):
                raise RuleError("bad_request", "请求应为JSON对象，如 {\"lecture_id\": 1}")
            lecture_id = data.get("lecture_id")
            if isinstance(lecture_id, int) and not isinstance(lecture_id, bool) and not valid_id(lecture_id):
                raise RuleError("not_enrolled", "直播不存在，或您不在该直播所属班期中", "lecture_id", status=404)
            trainee = s.get(User, self.users.get(request.sid))
            sessions.sweep_stale(s)
            sess = sessions.start_lecture_session(s, trainee, lecture_id, request.remote_addr,
                                                  request.user_agent.string if request.user_agent else None)
            body = sessions.session_json(s, sess)
            events.commit(s)
        except RuleError as e:
            s.rollback()
            events.discard(s)
            return _error(e)
        join_room(f"session:{sess.id}")
        join_room(f"class:{sess.class_id}")
        return body

    def on_live_leave(self, data):
        """Leave the room: the session ends and its heartbeats are sealed."""
        s = db.session
        try:
            sess = sessions.lock_session(s, _session_id(data), self.users.get(request.sid))
            if sess.lecture_id is None:
                raise RuleError("not_found", "直播会话不存在", status=404)
            totals = sessions.end_session(s, sess, "left")
            events.commit(s)
        except (RuleError, TypeError, ValueError):
            s.rollback()
            events.discard(s)
            return {"error": {"code": "not_found", "message": "直播会话不存在"}}
        return totals

    def on_heartbeat(self, data):
        try:
            beat = sessions.parse_heartbeat(data)
            sid = data.get("session_id")
            if isinstance(sid, bool) or not isinstance(sid, int):
                raise RuleError("invalid_field", "心跳须带 session_id", "session_id")
            if not valid_id(sid):
                raise RuleError("not_found", "学习会话不存在", status=404)
            answer = writer(current_app._get_current_object()).submit(sid, self.users.get(request.sid), beat)
        except RuleError as e:
            return _error(e)
        join_room(f"session:{sid}")
        return answer

    def on_attention(self, data):
        s = db.session
        try:
            sess = sessions.lock_session(s, _session_id(data), self.users.get(request.sid))
            result = checks.answer_attention(s, sess, sessions.server_now())
            events.commit(s)
        except (RuleError, TypeError, ValueError):
            s.rollback()
            events.discard(s)
            return {"error": {"code": "not_found", "message": "学习会话不存在"}}
        return result


class MonitorNamespace(Namespace):
    """Live class monitor (远程监控) for the institution's staff and the region's regulator."""

    def __init__(self):
        super().__init__(events.MONITOR)
        self.users = {}

    def on_connect(self, auth=None):
        user = _socket_user(auth)
        if user is None or user.role not in ("staff", "regulator", "admin"):
            raise ConnectionRefusedError("unauthorized")
        self.users[request.sid] = user.id

    def on_disconnect(self, reason=None):
        self.users.pop(request.sid, None)

    def on_watch(self, data):
        s = db.session
        user = s.get(User, self.users.get(request.sid))
        class_id = data.get("class_id") if isinstance(data, dict) else None
        cls = s.get(TrainingClass, class_id) if valid_id(class_id) else None
        if user is None or cls is None or not can_view_class(user, cls):
            return {"error": {"code": "forbidden", "message": "无权查看该班期"}}
        join_room(f"class:{cls.id}")
        active = s.scalars(select(LearningSession).where(LearningSession.class_id == cls.id,
                                                         LearningSession.status == "active")).all()
        return {"ok": True, "learners": [{
            "session_id": x.id, "trainee_id": x.trainee_id, "chapter_id": x.chapter_id, "lecture_id": x.lecture_id,
            "position": x.last_position,
            "last_beat_ts": x.last_beat_ts, "status": events.learner_status(x),
            "session_credited_seconds": round(x.credited_seconds, 1)} for x in active]}


def init_app(socketio):
    socketio.on_namespace(LearnNamespace())
    socketio.on_namespace(MonitorNamespace())
