"""The JSON API under /api/v1; each feature adds its routes to this blueprint from its own api.py."""
from flask import Blueprint, request

from tracker.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body(*required):
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise ApiError(415, "json_required", "请求内容类型须为 application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "请求内容不是有效的JSON对象")
    missing = [k for k in required if data.get(k) in (None, "")]
    if missing:
        raise ApiError(400, "missing_field", "缺少必填字段：" + "、".join(missing), fields=missing)
    return data
