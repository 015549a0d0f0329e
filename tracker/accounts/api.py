from flask import current_app, g, jsonify, request

from models import User
from tracker.accounts import credentials, services
from tracker.accounts.rules import mask_id_number, mask_phone
from tracker.api import bp, json_body
from tracker.api.openapi import _op, _s, extend
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.limits import register_limit
from tracker.security import api_auth, can_view_trainee, issue_token, load_current_user, sign_in_browser, sign_out_browser


def user_json(user):
    """ID and phone masked even for their owner: the whole number is never needed on screen."""
    return {
        "user_id": user.id,
        "name": user.name,
        "role": user.role,
        "id_number": mask_id_number(user.id_number),
        "phone": mask_phone(user.phone),
        "category": user.category,
        "employer": user.employer,
        "institution_id": user.institution_id,
        "region_code": user.region_code,
        "face_consent": {"version": user.face_consent_version,
                         "at": user.face_consent_at.isoformat() if user.face_consent_at else None},
    }


@bp.post("/auth/register")
@register_limit
def register():
    s = db.session
    user = services.register_trainee(s, json_body(), address=request.remote_addr)
    s.commit()
    return jsonify({"user_id": user.id}), 201


@bp.post("/auth/token")
def token():
    data = json_body("username", "password")
    s = db.session
    user = services.authenticate(s, data.get("username"), data.get("password"), request.remote_addr, "api")
    tok = issue_token(s, user, current_app.config["TRACKER_TOKEN_TTL"])
    s.commit()
    return jsonify({"token": tok, "user_id": user.id, "role": user.role,
                    "expires_in": current_app.config["TRACKER_TOKEN_TTL"]})


@bp.get("/me")
@api_auth()
def me():
    user = load_current_user()
    return jsonify(user_json(user))


@bp.get("/users/<int:user_id>")
@api_auth()
def user_detail(user_id):
    viewer, s = load_current_user(), db.session
    user = s.get(User, user_id)
    if user is None or not can_view_trainee(s, viewer, user):
        raise ApiError(404, "not_found", "用户不存在或无权查看")
    return jsonify(user_json(user))


# --- ending sessions and tokens, passwords ------------------------------------------------------------------------


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/auth/logout")
@api_auth()
def logout():
    """Revokes the bearer token this request carries, or ends the browser's login session."""
    s = db.session
    if g.auth_via == "token":
        credentials.revoke_token(s, g.current_user.id, g.api_token_id)
        ended = "token"
    else:
        sign_out_browser(s)
        ended = "session"
    s.commit()
    return jsonify({"ended": ended})


@bp.get("/me/tokens")
@api_auth()
def my_tokens():
    user = load_current_user()
    rows = credentials.user_tokens(db.session, user.id)
    return jsonify({"tokens": [credentials.token_json(r, g.api_token_id) for r in rows]})


@bp.delete("/me/tokens/<int:token_id>")
@api_auth()
def revoke_my_token(token_id):
    """Only one's own usable tokens: another user's token id is a 404 like one that does not exist."""
    user, s = load_current_user(), db.session
    if not credentials.revoke_token(s, user.id, token_id):
        raise ApiError(404, "not_found", "令牌不存在或已失效")
    s.commit()
    return jsonify({"token_id": token_id, "revoked": True})


def session_json(row, current_id=None):
    iso = lambda t: credentials.aware(t).isoformat() if t else None  # noqa: E731
    return {"session_id": row.id, "created_at": iso(row.created_at), "last_seen_at": iso(row.last_seen_at),
            "address": row.address, "user_agent": row.user_agent, "current": row.id == current_id}


@bp.get("/me/sessions")
@api_auth()
def my_sessions():
    user = load_current_user()
    rows = credentials.user_sessions(db.session, user.id)
    return jsonify({"sessions": [session_json(r, g.login_session_id) for r in rows]})


@bp.delete("/me/sessions/<int:session_id>")
@api_auth()
def revoke_my_session(session_id):
    user, s = load_current_user(), db.session
    if not credentials.revoke_session(s, user.id, session_id):
        raise ApiError(404, "not_found", "登录会话不存在或已结束")
    s.commit()
    return jsonify({"session_id": session_id, "revoked": True})


@bp.post("/me/password")
@api_auth()
def change_my_password():
    """Every role. All other sessions end and every token is revoked; the caller stays signed in:
    a browser gets a new session cookie, a token client a new token in the answer."""
    data = json_body("current_password", "new_password")
    user, s, via = load_current_user(), db.session, g.auth_via
    keep = g.login_session_id if via == "cookie" else None
    ended = credentials.change_password(s, user, data.get("current_password"), data.get("new_password"),
                                        via="api", address=request.remote_addr, keep_session_id=keep)
    answer = dict(ended)
    user = s.get(User, user.id)
    if via == "cookie":
        credentials.revoke_user_sessions(s, user.id)
        sign_in_browser(s, user)
    else:
        answer["token"] = issue_token(s, user, current_app.config["TRACKER_TOKEN_TTL"])
        answer["expires_in"] = current_app.config["TRACKER_TOKEN_TTL"]
    s.commit()
    return _no_store(jsonify(answer))


@bp.post("/trainees/<int:trainee_id>/password-reset")
@api_auth("staff", "admin")
def issue_password_reset(trainee_id):
    """A one-time code for a trainee on a roster of the caller's institution (admin: any trainee), shown once."""
    actor, s = load_current_user(), db.session
    trainee = s.get(User, trainee_id)
    if not credentials.can_reset_password(s, actor, trainee):
        raise ApiError(404, "not_found", "学员不存在或不在您的管理范围内")
    code, row = credentials.issue_reset_code(s, actor, trainee)
    s.commit()
    return _no_store(jsonify({"trainee_id": trainee.id, "code": code, "code_id": row.id,
                              "expires_at": row.expires_at.isoformat(),
                              "tries": current_app.config["TRACKER_RESET_CODE_TRIES"]})), 201


@bp.post("/auth/password-reset")
def use_password_reset():
    """Public: username (ID number or phone), the code from the institution, and a new password."""
    data = json_body("username", "code", "new_password")
    s = db.session
    credentials.use_reset_code(s, data.get("username"), data.get("code"), data.get("new_password"), request.remote_addr)
    s.commit()
    return jsonify({"reset": True})


@extend
def _credential_paths():
    iso = {"type": ["string", "null"], "format": "date-time"}
    token = {"type": "object", "properties": {"token_id": {"type": "integer"}, "created_at": iso, "expires_at": iso,
                                              "last_used_at": iso, "current": {"type": "boolean"}}}
    login = {"type": "object", "properties": {"session_id": {"type": "integer"}, "created_at": iso, "last_seen_at": iso,
                                              "address": {"type": ["string", "null"]},
                                              "user_agent": {"type": ["string", "null"]}, "current": {"type": "boolean"}}}
    password = {"type": "string", "required": True, "minLength": 8, "maxLength": 128,
                "description": "至少8位，须同时包含字母和数字（与注册相同）"}
    return {
        "/auth/logout": {"post": _op("退出：撤销本次请求所用的访问令牌，或结束浏览器的登录会话", tag="accounts", errors=(400, 401),
                                     ok_schema={"type": "object", "properties": {"ended": {"enum": ["token", "session"]}}})},
        "/me/tokens": {"get": _op("本人有效的访问令牌（不含令牌本身及其哈希）", tag="accounts", errors=(401,),
                                  ok_schema={"type": "object", "properties": {"tokens": {"type": "array", "items": token}}})},
        "/me/tokens/{token_id}": {"delete": _op("撤销本人的一个访问令牌（他人的令牌视为不存在：404）", tag="accounts",
                                                errors=(400, 401, 404))},
        "/me/sessions": {"get": _op("本人有效的网页登录会话", tag="accounts", errors=(401,),
                                    ok_schema={"type": "object", "properties": {"sessions": {"type": "array", "items": login}}})},
        "/me/sessions/{session_id}": {"delete": _op("结束本人的一个网页登录会话（他人的视为不存在：404）", tag="accounts",
                                                    errors=(400, 401, 404))},
        "/me/password": {"post": _op(
            "修改本人密码（所有角色）：其他登录会话全部结束、访问令牌全部撤销；用令牌调用时答复中带新令牌", tag="accounts",
            errors=(400, 401, 415, 429), body={"current_password": _s("string", True), "new_password": dict(password)},
            ok_schema={"type": "object", "properties": {"sessions_ended": {"type": "integer"},
                                                        "tokens_revoked": {"type": "integer"}, "token": {"type": "string"}}})},
        "/trainees/{trainee_id}/password-reset": {"post": _op(
            "为学员签发一次性密码重置码（本机构花名册上的学员；管理员不限）；重置码只在此答复中出现一次", ok=201, tag="accounts",
            errors=(401, 403, 404), ok_schema={"type": "object", "properties": {
                "trainee_id": {"type": "integer"}, "code": {"type": "string"}, "code_id": {"type": "integer"},
                "expires_at": {"type": "string", "format": "date-time"}, "tries": {"type": "integer"}}})},
        "/auth/password-reset": {"post": _op(
            "学员用重置码设置新密码（用户名为身份证号或手机号）；成功后所有登录会话结束、访问令牌撤销", auth=False,
            tag="accounts", errors=(400, 415), body={"username": _s("string", True), "code": _s("string", True),
                                                      "new_password": dict(password)},
            ok_schema={"type": "object", "properties": {"reset": {"type": "boolean"}}})},
    }
