"""One error handler: JSON error bodies under /api/, a Chinese HTML page elsewhere."""
from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from tracker.accounts.rules import RuleError


class ApiError(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


MESSAGES = {
    400: ("bad_request", "请求格式错误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "与现有数据冲突"),
    413: ("too_large", "上传内容过大"),
    415: ("unsupported_media_type", "请求内容类型不支持"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误"),
}


def _wants_json():
    return request.path.startswith("/api/")


def error_response(status, code, message, **extra):
    if _wants_json():
        body = {"error": {"code": code, "message": message, **extra}}
        return jsonify(body), status
    return render_template("error.html", status=status, code=code, message=message), status


def init_app(app):
    @app.errorhandler(ApiError)
    def _api_error(e):
        return error_response(e.status, e.code, e.message, **e.extra)

    @app.errorhandler(RuleError)
    def _rule_error(e):
        extra = {"field": e.field} if e.field else {}
        return error_response(e.status, e.code, e.message, **extra)

    @app.errorhandler(CSRFError)
    def _csrf_error(e):
        return error_response(400, "csrf_failed", "页面已过期或表单校验失败，请刷新后重试")

    @app.errorhandler(HTTPException)
    def _http_error(e):
        code, message = MESSAGES.get(e.code, ("http_error", e.description or "请求错误"))
        return error_response(e.code, code, message)

    @app.errorhandler(Exception)
    def _unexpected(e):
        app.logger.exception("unhandled error")
        code, message = MESSAGES[500]
        return error_response(500, code, message)
