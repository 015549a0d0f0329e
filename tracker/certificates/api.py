import json

from flask import jsonify

from models import TrainingClass
from tracker.api import bp, json_body
from tracker.api.openapi import _op, extend
from tracker.certificates import numbers, services
from tracker.certificates.public import public_summary
from tracker.certificates.rules import eligibility
from tracker.db import valid_id
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.limits import verify_limit
from tracker.security import api_auth, can_view_class, load_current_user


def _class_and_trainee(class_id, trainee_id):
    s, viewer = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    if cls is None:
        raise ApiError(404, "not_found", "班期不存在")
    if not can_view_class(viewer, cls):
        raise ApiError(403, "forbidden", "无权查看该班期")
    trainee = services.trainee(s, trainee_id) if valid_id(trainee_id) else None
    if trainee is None:
        raise ApiError(404, "not_found", "学员不存在", field="trainee_id")
    return s, viewer, cls, trainee


@bp.get("/classes/<int:class_id>/trainees/<int:trainee_id>/eligibility")
@api_auth("staff", "regulator", "admin")
def certificate_eligibility(class_id, trainee_id):
    s, _viewer, cls, trainee = _class_and_trainee(class_id, trainee_id)
    result = eligibility(s, trainee, cls)
    return jsonify({k: v for k, v in result.items() if k != "facts"})


@bp.post("/classes/<int:class_id>/certificates")
@api_auth("staff", "admin")
def certificate_issue(class_id):
    data = json_body("trainee_id")
    s, viewer, cls, trainee = _class_and_trainee(class_id, data["trainee_id"])
    try:
        cert = services.issue(s, cls, trainee, viewer)
    except services.NotEligible as e:
        raise ApiError(409, e.code, e.message, missing=e.missing) from None
    s.commit()
    return jsonify({"number": cert.number, "document": json.loads(cert.document)}), 201


def _viewable(number):
    s, viewer = db.session, load_current_user()
    cert = services.by_number(s, number)
    if cert is None:
        raise ApiError(404, "not_found", "培训证明不存在")
    if not services.can_view(s, viewer, cert):
        raise ApiError(403, "forbidden", "无权查看该培训证明")
    return s, viewer, cert


@bp.get("/certificates/<number>")
@api_auth()
def certificate_document(number):
    _s, _viewer, cert = _viewable(number)
    return jsonify(json.loads(cert.document))


@bp.post("/certificates/<number>/revoke")
@api_auth("staff", "admin")
def certificate_revoke(number):
    s, viewer, cert = _viewable(number)
    data = json_body("reason")
    row = services.revoke(s, cert, viewer, data["reason"])
    s.commit()
    return jsonify({"number": cert.number, "revoked": True, "reason": row.reason, "entry_seq": row.entry_seq})


@bp.get("/verify/<number>")
@verify_limit
def certificate_status(number):
    """Public, like the page /verify/<number>: valid or revoked (and when), the summary the public may see
    (tracker/certificates/public.py), the checks made."""
    s = db.session
    canonical, problem = numbers.parse(number)
    if problem == numbers.MISTYPED:
        raise ApiError(400, "number_mistyped", "证书编号校验位不符，可能有字符输错，请核对后重新输入")
    cert = services.by_number(s, canonical) if problem == numbers.OK else None
    if cert is None:
        raise ApiError(404, "not_found", "培训证明不存在")
    result = services.check(s, cert)
    summary = public_summary(result)
    return jsonify({
        "number": cert.number, "valid": result["valid"], "genuine": result["genuine"],
        "revoked": summary["status"] == "revoked",
        "revocation": {"at": summary["revoked_at"]} if summary["revoked_at"] else None,
        "summary": summary,
        "checks": result["checks"],
    })


@extend
def _paths():
    return {
        "/classes/{class_id}/trainees/{trainee_id}/eligibility": {"get": _op(
            "学员能否获得本班期培训证明：已满足与未满足的条件", tag="certificates")},
        "/classes/{class_id}/certificates": {"post": _op(
            "为本机构班期的学员出具培训证明；不符合条件时 409 not_eligible 并列出 missing", ok=201, tag="certificates",
            errors=(400, 401, 403, 404, 409), body={"trainee_id": {"type": "integer", "required": True}})},
        "/certificates/{number}": {"get": _op("培训证明（签名的JSON文件：facts、checkpoint、proof、signature）", tag="certificates")},
        "/certificates/{number}/revoke": {"post": _op("撤销培训证明（本机构人员、管理员），须填写原因", tag="certificates",
                                                      errors=(400, 401, 403, 404, 409),
                                                      body={"reason": {"type": "string", "required": True}})},
        "/verify/{number}": {"get": _op("公开核验培训证明（编号不区分大小写、可含空格或连字符）：有效或已撤销及撤销日期、"
                                        "摘要（姓名与身份证号已脱敏，职业、班期、学时、出具日期）与核验项目；"
                                        "校验位不符 400 number_mistyped；按来源地址限流，超出 429", auth=False,
                                        tag="certificates", errors=(400, 404, 429))},
    }
