"""Socket.IO namespace /qa: teacher Q&A threads update live for the trainee and the institution's staff.

Authenticated like /learn. On connect staff join their institution's room (new questions, the unanswered
badge) and trainees their own room (answers to their questions); `watch` joins one thread's room.
Server → client: `qa_post` (a post, with `new_thread`), `qa_unanswered` {institution_id, count}.
"""
from flask import request
from flask_socketio import Namespace, join_room

from models import User
from tracker.accounts.rules import RuleError
from tracker.assessment import qa
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import events
from tracker.learning.sockets import _socket_user


def _error(e):
    return {"error": {"code": e.code, "message": e.message}}


def _fields(data, example):
    """The event's payload as an object; anything else is the client's mistake, answered (not a dead handler)."""
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", f"请求应为JSON对象，如 {example}")
    return data


class QaNamespace(Namespace):
    def __init__(self):
        super().__init__(qa.QA)
        self.users = {}  # sid -> user id

    def on_connect(self, auth=None):
        user = _socket_user(auth)
        if user is None or user.role not in ("trainee", "staff", "regulator", "admin"):
            raise ConnectionRefusedError("unauthorized")
        self.users[request.sid] = user.id
        if user.role == "trainee":
            join_room(qa.trainee_room(user.id))
        elif user.role == "staff" and user.institution_id:
            join_room(qa.staff_room(user.institution_id))

    def on_disconnect(self, reason=None):
        self.users.pop(request.sid, None)

    def _user(self):
        uid = self.users.get(request.sid)
        return db.session.get(User, uid) if uid else None

    def on_watch(self, data):
        """Follow one thread; the answer is the thread as it stands."""
        s, user = db.session, self._user()
        try:
            root = qa.thread_for(s, user, _fields(data, '{"thread_id": 1}').get("thread_id"))
            body, thread_id = qa.thread_json(s, root), root.id
        except ApiError as e:
            s.rollback()
            return _error(e)
        s.rollback()
        join_room(qa.thread_room(thread_id))
        return {"ok": True, "thread": body}

    def on_unanswered(self, data=None):
        s, user = db.session, self._user()
        if user is None or user.role != "staff":
            return {"error": {"code": "forbidden", "message": "仅机构人员可查看"}}
        count = qa.unanswered_count(s, user.institution_id)
        s.rollback()
        return {"ok": True, "count": count}

    def on_ask(self, data):
        """A trainee asks on a chapter: {chapter_id, text}."""
        s, user = db.session, self._user()
        if user is None or user.role != "trainee":
            return {"error": {"code": "forbidden", "message": "仅学员可以提问"}}
        try:
            data = _fields(data, '{"chapter_id": 1, "text": "问题"}')
            post = qa.ask(s, user, data.get("chapter_id"), data.get("text"))
            events.commit(s)
        except (ApiError, RuleError) as e:
            s.rollback()
            events.discard(s)
            return _error(e)
        join_room(qa.thread_room(post.id))
        return {"ok": True, "thread": qa.thread_json(s, post)}

    def on_post(self, data):
        """A post in a thread: {thread_id, text} (staff answer; the asking trainee may follow up)."""
        s, user = db.session, self._user()
        if user is None or user.role == "regulator":
            return {"error": {"code": "forbidden", "message": "人社部门只能查看答疑"}}
        try:
            data = _fields(data, '{"thread_id": 1, "text": "回复"}')
            root = qa.thread_for(s, user, data.get("thread_id"))
            post = qa.reply(s, user, root, data.get("text"))
            body = qa.post_json(post, user)
            events.commit(s)
        except (ApiError, RuleError) as e:
            s.rollback()
            events.discard(s)
            return _error(e)
        join_room(qa.thread_room(root.id))
        return {"ok": True, "post": body}


def init_app(socketio):
    socketio.on_namespace(QaNamespace())
