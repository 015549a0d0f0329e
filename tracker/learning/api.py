from flask import current_app, jsonify, request

from models import TrainingClass, User
from tracker.api import bp, json_body
from tracker.api.openapi import _op, extend
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import checks, events, record, services, sessions
from tracker.learning.writer import writer
from tracker.security import api_auth, can_manage_class, can_view_trainee, load_current_user


@bp.get("/me/classes")
@api_auth("trainee")
def my_classes():
    return jsonify({"classes": services.trainee_classes(db.session, load_current_user())})


@bp.post("/classes/<int:class_id>/roster")
@api_auth("staff", "admin")
def roster_add(class_id):
    s, viewer = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    if cls is None:
        raise ApiError(404, "not_found", "班期不存在")
    if not can_manage_class(viewer, cls):
        raise ApiError(403, "forbidden", "只能管理本机构的班期")
    data = json_body("id_number")
    enrollment = services.add_to_roster(s, cls, data["id_number"], viewer)
    s.commit()
    return jsonify({"enrollment_id": enrollment.id, "class_id": cls.id, "trainee_id": enrollment.trainee_id}), 201


@bp.post("/sessions")
@api_auth("trainee")
def session_start():
    s, trainee = db.session, load_current_user()
    data = json_body("chapter_id")
    sessions.sweep_stale(s)
    sess = sessions.start_session(s, trainee, data["chapter_id"], request.remote_addr, request.user_agent.string)
    body = sessions.session_json(s, sess)
    events.commit(s)
    return jsonify(body), 201


@bp.post("/sessions/<int:session_id>/heartbeats")
@api_auth("trainee")
def heartbeat(session_id):
    trainee_id = load_current_user().id
    beat = sessions.parse_heartbeat(json_body())
    db.session.rollback()  # the writer thread writes; this request must not hold SQLite's write lock meanwhile
    return jsonify(writer(current_app._get_current_object()).submit(session_id, trainee_id, beat))


@bp.post("/sessions/<int:session_id>/end")
@api_auth("trainee")
def session_end(session_id):
    s, trainee = db.session, load_current_user()
    sess = sessions.lock_session(s, session_id, trainee.id)
    totals = sessions.end_session(s, sess, "closed")
    events.commit(s)
    return jsonify(totals)


@bp.post("/sessions/<int:session_id>/attention")
@api_auth("trainee")
def attention(session_id):
    s, trainee = db.session, load_current_user()
    sess = sessions.lock_session(s, session_id, trainee.id)
    result = checks.answer_attention(s, sess, sessions.server_now())
    events.commit(s)
    return jsonify(result)


@bp.get("/trainees/<int:trainee_id>/record")
@api_auth()
def trainee_record(trainee_id):
    s, viewer = db.session, load_current_user()
    trainee = s.get(User, trainee_id)
    if trainee is None or trainee.role != "trainee" or not can_view_trainee(s, viewer, trainee):
        raise ApiError(404, "not_found", "学员不存在或无权查看")
    return jsonify(record.trainee_record(s, trainee))


@extend
def _paths():
    hb = {k: {"type": t} for k, t in (("seq", "integer"), ("position", "number"), ("rate", "number"),
                                     ("playing", "boolean"), ("visible", "boolean"), ("focused", "boolean"),
                                     ("client_time", "number"), ("env", "object"))}
    return {
        "/sessions": {"post": _op("开始学习会话（同一学员只保留一个活动会话）", ok=201, tag="learning",
                                  body={"chapter_id": {"type": "integer", "required": True}})},
        "/sessions/{session_id}/heartbeats": {"post": _op("上报心跳；按序号幂等，返回计时决定", tag="learning", body=hb)},
        "/sessions/{session_id}/end": {"post": _op("结束学习会话", tag="learning")},
        "/sessions/{session_id}/attention": {"post": _op("回应“是否还在学习”提示", tag="learning")},
        "/trainees/{trainee_id}/record": {"get": _op("学员学习记录（本人、本机构、辖区人社部门）", tag="learning")},
    }
