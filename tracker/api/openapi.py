"""The OpenAPI 3.1 document of /api/v1, kept next to the routes it describes."""
import re

from flask import current_app, has_app_context

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary, *, auth=True, body=None, ok=200, ok_schema=None, errors=(400, 401, 403, 404), tag=None):
    op = {"summary": summary, "tags": [tag] if tag else [], "responses": {
        str(ok): {"description": "成功", "content": {"application/json": {"schema": ok_schema or {"type": "object"}}}},
    }}
    for code in errors:
        op["responses"][str(code)] = {"description": "错误", "content": {"application/json": {"schema": ERROR}}}
    if auth:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    if body:  # every JSON body is limited (TRACKER_MAX_BODY, 1 MB by default): 413 before it is read
        op["responses"].setdefault("413", {"description": "请求体过大", "content": {"application/json": {"schema": ERROR}}})
        required = [k for k, v in body.items() if v.pop("required", False)]
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": body, "required": required}}}}
    return op


def _s(t, required=False, **kw):
    return {"type": t, "required": required, **kw}


def document():
    from tracker.accounts.rules import CATEGORIES

    paths = {
        "/auth/register": {"post": _op("学员实名注册（按来源地址限流，超出 429 too_many_requests）", auth=False, ok=201,
                                       tag="accounts", errors=(400, 409, 415, 429), body={
            "name": _s("string", True, maxLength=50), "id_number": _s("string", True, pattern="^[0-9]{17}[0-9Xx]$"),
            "phone": _s("string", True, pattern="^1[3-9][0-9]{9}$"), "category": _s("string", True, enum=list(CATEGORIES)),
            "employer": _s("string", True, maxLength=100), "password": _s("string", True, minLength=8),
            "face_consent": _s("boolean", True)},
            ok_schema={"type": "object", "properties": {"user_id": {"type": "integer"}}})},
        "/auth/token": {"post": _op("登录获取访问令牌（用户名为身份证号或手机号）；失败过多时 429：too_many_attempts（本地址对该账号）、"
                                    "address_throttled（本地址）、account_locked（多地址失败后账号锁定，管理员可解除）", auth=False, tag="accounts", errors=(400, 415, 429),
                                    body={"username": _s("string", True), "password": _s("string", True)},
                                    ok_schema={"type": "object", "properties": {"token": {"type": "string"}}})},
        "/me": {"get": _op("当前用户（身份证号、手机号已脱敏）", tag="accounts", errors=(401,))},
        "/users/{user_id}": {"get": _op("查看用户（本人、本机构人员、辖区人社部门）", tag="accounts")},
        "/me/classes": {"get": _op("我的班期、课程、章节与进度", tag="learning", errors=(401, 403))},
        "/classes/{class_id}/roster": {"post": _op("把已注册学员加入班期花名册（本机构人员）", ok=201, tag="learning",
                                                   errors=(400, 401, 403, 404, 409),
                                                   body={"id_number": _s("string", True), "name": _s("string")})},
        "/me/classes/{class_id}/refuse": {"post": _op("不是我报名的：学员退出他人为其报名的班期（记入台账，不可再加入）",
                                                      tag="learning", errors=(401, 403, 404))},
        "/ledger/head": {"get": _op("台账链头（条数与最新哈希）", tag="ledger", errors=(401, 403))},
        "/openapi.json": {"get": _op("本文档", auth=False, tag="meta", errors=())},
    }
    for extra in _EXTENSIONS:
        paths.update(extra())
    _add_path_parameters(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "职业技能线上培训平台 API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
        },
    }


_RULE_PARAM = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


def _add_path_parameters(paths):
    """Declare each templated path's parameters, typed as its route's converter types them (<int:…>, <bigint:…>: an integer)."""
    converters = {}
    if has_app_context():
        for rule in current_app.url_map.iter_rules():
            if rule.rule.startswith("/api/v1/"):
                path = _RULE_PARAM.sub(r"{\2}", rule.rule[len("/api/v1"):])
                converters[path] = {name: conv for conv, name in _RULE_PARAM.findall(rule.rule)}
    for path, item in paths.items():
        names = re.findall(r"{([^{}]+)}", path)
        if names:
            kinds = converters.get(path, {})
            item["parameters"] = [{"name": n, "in": "path", "required": True, "schema":
                                   {"type": "integer", "minimum": 0} if kinds.get(n) in ("int", "bigint") else {"type": "string"}}
                                  for n in names]


# Features that add API routes register a function returning their path items here.
_EXTENSIONS = []


def extend(fn):
    _EXTENSIONS.append(fn)
    return fn
