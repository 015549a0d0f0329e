from flask import current_app, jsonify, request

from models import User
from tracker.accounts import services
from tracker.accounts.rules import mask_id_number, mask_phone
from tracker.api import bp, json_body
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.limits import register_limit
from tracker.security import api_auth, can_view_trainee, issue_token, load_current_user


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
