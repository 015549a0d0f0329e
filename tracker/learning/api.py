from flask import current_app, jsonify, request

from models import LiveLecture, TrainingClass, User
from tracker.api import bp, json_body
from tracker.api.openapi import _op, extend
from tracker.db import valid_id
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import checks, events, lectures, manage, record, services, sessions
from tracker.learning.writer import writer
from tracker.security import api_auth, can_manage_class, can_view_class, can_view_trainee, evidence_scope, load_current_user


@bp.get("/me/classes")
@api_auth("trainee")
def my_classes():
    return jsonify({"classes": services.trainee_classes(db.session, load_current_user())})


def _known(value, message):
    """A 404 for an id no row can have (beyond what its column holds the lookup itself would fail: a 500)."""
    if not valid_id(value):
        raise ApiError(404, "not_found", message)
    return value


def _class(s, viewer, class_id, check):
    cls = s.get(TrainingClass, _known(class_id, "班期不存在"))
    if cls is None:
        raise ApiError(404, "not_found", "班期不存在")
    if not check(viewer, cls):
        raise ApiError(403, "forbidden", "无权访问该班期")
    return cls


@bp.post("/classes/<int:class_id>/roster")
@api_auth("staff", "admin")
def roster_add(class_id):
    s, viewer = db.session, load_current_user()
    cls = _class(s, viewer, class_id, can_manage_class)
    data = json_body("id_number")
    enrollment = services.add_to_roster(s, cls, data["id_number"], viewer, data.get("name"))
    s.commit()
    return jsonify({"enrollment_id": enrollment.id, "class_id": cls.id, "trainee_id": enrollment.trainee_id}), 201


@bp.post("/me/classes/<int:class_id>/refuse")
@api_auth("trainee")
def roster_refuse(class_id):
    """"不是我报名的": the trainee takes themself off a roster they did not ask to be on."""
    s = db.session
    services.refuse_roster(s, load_current_user(), class_id)
    events.commit(s)
    return jsonify({"class_id": class_id, "refused": True})


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
    _known(session_id, "学习会话不存在")
    beat = sessions.parse_heartbeat(json_body())
    db.session.rollback()  # the writer thread writes; this request must not hold SQLite's write lock meanwhile
    return jsonify(writer(current_app._get_current_object()).submit(session_id, trainee_id, beat))


@bp.post("/sessions/<int:session_id>/end")
@api_auth("trainee")
def session_end(session_id):
    s, trainee = db.session, load_current_user()
    sess = sessions.lock_session(s, _known(session_id, "学习会话不存在"), trainee.id)
    totals = sessions.end_session(s, sess, "closed")
    events.commit(s)
    return jsonify(totals)


@bp.post("/sessions/<int:session_id>/attention")
@api_auth("trainee")
def attention(session_id):
    s, trainee = db.session, load_current_user()
    sess = sessions.lock_session(s, _known(session_id, "学习会话不存在"), trainee.id)
    result = checks.answer_attention(s, sess, sessions.server_now())
    events.commit(s)
    return jsonify(result)


@bp.get("/trainees/<int:trainee_id>/record")
@api_auth()
def trainee_record(trainee_id):
    s, viewer = db.session, load_current_user()
    trainee = s.get(User, _known(trainee_id, "学员不存在或无权查看"))
    if trainee is None or trainee.role != "trainee" or not can_view_trainee(s, viewer, trainee):
        raise ApiError(404, "not_found", "学员不存在或无权查看")
    return jsonify(record.trainee_record(s, trainee, evidence_scope(s, viewer, trainee)))


def _lecture(s, viewer, lecture_id, manage=False):
    lecture = s.get(LiveLecture, _known(lecture_id, "直播不存在或无权查看"))
    if lecture is None or not lectures.can_see_lecture(s, viewer, lecture):
        raise ApiError(404, "not_found", "直播不存在或无权查看")
    if manage and not can_manage_class(viewer, lecture.training_class):
        raise ApiError(403, "forbidden", "只能管理本机构班期的直播")
    return lecture


def _lecture_body(lecture, now):
    return {**lectures.lecture_json(lecture, now), "stream_url": lecture.stream_url,
            "stream_kind": lectures.stream_kind(lecture.stream_url)}


@bp.get("/classes/<int:class_id>/lectures")
@api_auth()
def class_lectures(class_id):
    s, viewer = db.session, load_current_user()
    cls, now = _class(s, viewer, class_id, can_view_class), sessions.server_now()
    return jsonify({"lectures": [lectures.lecture_json(x, now) for x in lectures.class_lectures(s, cls)]})


@bp.post("/classes/<int:class_id>/lectures")
@api_auth("staff", "admin")
def lecture_schedule(class_id):
    s, viewer = db.session, load_current_user()
    cls = _class(s, viewer, class_id, can_manage_class)
    data = json_body()
    lecture = lectures.schedule_lecture(s, cls, viewer, data.get("title"), data.get("teacher"), data.get("stream_url"),
                                        data.get("starts_at"), data.get("ends_at"), sessions.server_now())
    s.commit()
    return jsonify(_lecture_body(lecture, sessions.server_now())), 201


@bp.get("/me/lectures")
@api_auth("trainee")
def my_lectures():
    return jsonify({"lectures": lectures.trainee_lectures(db.session, load_current_user(), sessions.server_now())})


@bp.get("/lectures/<int:lecture_id>")
@api_auth()
def lecture_get(lecture_id):
    s = db.session
    return jsonify(_lecture_body(_lecture(s, load_current_user(), lecture_id), sessions.server_now()))


@bp.post("/lectures/<int:lecture_id>/change")
@api_auth("staff", "admin")
def lecture_change(lecture_id):
    s, viewer = db.session, load_current_user()
    lecture = _lecture(s, viewer, lecture_id, manage=True)
    data = json_body()
    lectures.change_lecture(s, lecture, viewer, data.get("title"), data.get("teacher"), data.get("stream_url"),
                            data.get("starts_at"), data.get("ends_at"), sessions.server_now())
    s.commit()
    return jsonify(_lecture_body(lecture, sessions.server_now()))


@bp.post("/lectures/<int:lecture_id>/cancel")
@api_auth("staff", "admin")
def lecture_cancel(lecture_id):
    s, viewer = db.session, load_current_user()
    lecture = _lecture(s, viewer, lecture_id, manage=True)
    lectures.cancel_lecture(s, lecture, viewer, json_body("reason")["reason"], sessions.server_now())
    s.commit()
    return jsonify(_lecture_body(lecture, sessions.server_now()))


@bp.post("/lectures/<int:lecture_id>/recording")
@api_auth("staff", "admin")
def lecture_recording(lecture_id):
    s, viewer = db.session, load_current_user()
    lecture = _lecture(s, viewer, lecture_id, manage=True)
    upload = request.files.get("video")
    s.rollback()  # decoding a long recording must not hold the database's write lock
    lecture = lectures.attach_recording(s, s.get(LiveLecture, lecture_id), viewer, upload.stream if upload else None,
                                        upload.filename if upload else "", sessions.server_now())
    stored = manage.media_dir() / lecture.recording_file
    try:
        s.commit()
    except BaseException:  # no row names the stored file: remove it rather than leave an orphan
        stored.unlink(missing_ok=True)
        raise
    return jsonify(_lecture_body(lecture, sessions.server_now()))


@bp.get("/lectures/<int:lecture_id>/attendance")
@api_auth("staff", "regulator", "admin")
def lecture_attendance(lecture_id):
    s = db.session
    lecture = _lecture(s, load_current_user(), lecture_id)
    return jsonify({**lectures.lecture_json(lecture, sessions.server_now()), "attendance": lectures.attendance(s, lecture)})


@bp.post("/lectures/<int:lecture_id>/sessions")
@api_auth("trainee")
def lecture_session_start(lecture_id):
    s, trainee = db.session, load_current_user()
    _known(lecture_id, "直播不存在，或您不在该直播所属班期中")
    sessions.sweep_stale(s)
    sess = sessions.start_lecture_session(s, trainee, lecture_id, request.remote_addr, request.user_agent.string)
    body = sessions.session_json(s, sess)
    events.commit(s)
    return jsonify(body), 201


@extend
def _paths():
    hb = {k: {"type": t} for k, t in (("seq", "integer"), ("position", "number"), ("rate", "number"),
                                     ("playing", "boolean"), ("visible", "boolean"), ("focused", "boolean"),
                                     ("client_time", "number"), ("env", "object"))}
    hb["ended"] = {"type": "boolean", "description": "可选：视频已播放到结尾（此时不再提示“是否还在学习”）；不影响计时"}
    lecture = {"title": {"type": "string", "required": True, "maxLength": 100}, "teacher": {"type": "string", "maxLength": 50},
               "stream_url": {"type": "string", "required": True, "maxLength": 500},
               "starts_at": {"type": "string", "required": True, "format": "date-time"},
               "ends_at": {"type": "string", "required": True, "format": "date-time"}}
    return {
        "/sessions": {"post": _op("开始学习会话（同一学员只保留一个活动会话）", ok=201, tag="learning",
                                  body={"chapter_id": {"type": "integer", "required": True}})},
        "/sessions/{session_id}/heartbeats": {"post": _op("上报心跳；按序号幂等，返回计时决定", tag="learning", body=hb)},
        "/sessions/{session_id}/end": {"post": _op("结束学习会话", tag="learning")},
        "/sessions/{session_id}/attention": {"post": _op("回应“是否还在学习”提示", tag="learning")},
        "/trainees/{trainee_id}/record": {"get": _op("学员学习记录（本人、本机构、辖区人社部门）", tag="learning")},
        "/classes/{class_id}/lectures": {
            "get": _op("班期的直播安排（本机构、辖区人社部门；学员用 /me/lectures）", tag="lectures"),
            "post": _op("安排直播（本机构人员）；时间为ISO 8601，无时区按北京时间", ok=201, tag="lectures", errors=(400, 401, 403, 404, 409),
                        body=lecture)},
        "/me/lectures": {"get": _op("本人所在班期的直播及已计出勤时长", tag="lectures")},
        "/lectures/{lecture_id}": {"get": _op("一场直播（含直播地址）", tag="lectures")},
        "/lectures/{lecture_id}/change": {"post": _op("开播前修改直播安排", tag="lectures", errors=(400, 401, 403, 404, 409), body=lecture)},
        "/lectures/{lecture_id}/cancel": {"post": _op("开播前取消直播", tag="lectures", errors=(400, 401, 403, 404, 409),
                                                      body={"reason": {"type": "string", "required": True, "maxLength": 200}})},
        "/lectures/{lecture_id}/recording": {"post": _op("直播结束后上传录像（multipart 字段 video，WebM/MP4），存入班期档案", tag="lectures",
                                                         errors=(400, 401, 403, 404, 409))},
        "/lectures/{lecture_id}/attendance": {"get": _op("直播出勤：每名学员的进入、离开时间与计入时长（证件号脱敏）", tag="lectures")},
        "/lectures/{lecture_id}/sessions": {"post": _op("进入直播间：开始一个按在场时长计时的学习会话（开播前15分钟开放）", ok=201,
                                                        tag="lectures", errors=(400, 401, 403, 404, 409))},
    }
