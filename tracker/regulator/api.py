"""/api/v1/regulator: the portal for the regulator's scripts (search, traces, anomalies and their reviews, sampling)."""
from flask import jsonify, request

from models import SamplingDraw, User
from tracker.api import bp, json_body
from tracker.api.openapi import _op, extend
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.regulator import reviews, sampling, search, trace
from tracker.regulator.routes import READERS, anomaly_report, days_param
from tracker.security import api_auth, can_view_trainee, load_current_user


def _trainee_or_404(s, viewer, trainee_id):
    trainee = s.get(User, trainee_id)
    if trainee is None or trainee.role != "trainee" or not can_view_trainee(s, viewer, trainee):
        raise ApiError(404, "not_found", "学员不存在或不在您的查看范围内")
    return trainee


@bp.get("/regulator/trainees")
@api_auth(*READERS)
def regulator_search():
    s, viewer = db.session, load_current_user()
    return jsonify({"trainees": search.search_trainees(s, viewer, request.args.get("q", ""))})


@bp.get("/regulator/trainees/<int:trainee_id>/trace")
@api_auth(*READERS)
def regulator_trace(trainee_id):
    s, viewer = db.session, load_current_user()
    return jsonify(trace.trainee_trace(s, viewer, _trainee_or_404(s, viewer, trainee_id)))


@bp.get("/regulator/trainees/<int:trainee_id>/reviews")
@api_auth(*READERS)
def regulator_reviews(trainee_id):
    """The trainee's reviews, newest first (the first is the current conclusion); staff read their own trainees'."""
    s, viewer = db.session, load_current_user()
    trainee = _trainee_or_404(s, viewer, trainee_id)
    history = reviews.history_json(s, viewer, trainee.id)
    return jsonify({"trainee_id": trainee.id, "latest": history[0] if history else None, "reviews": history})


@bp.post("/regulator/trainees/<int:trainee_id>/reviews")
@api_auth("regulator")
def regulator_review(trainee_id):
    s, viewer = db.session, load_current_user()
    trainee = _trainee_or_404(s, viewer, trainee_id)
    body = json_body()
    row = reviews.record_review(s, viewer, trainee, body.get("conclusion"), body.get("note"), body.get("days"))
    s.commit()
    return jsonify(reviews.history_json(s, viewer, trainee.id, rows=[row])[0]), 201


@bp.get("/regulator/anomalies")
@api_auth(*READERS)
def regulator_anomalies():
    s, viewer = db.session, load_current_user()
    return jsonify(anomaly_report(s, viewer, days_param(request.args.get("days"))))


@bp.get("/regulator/samples")
@api_auth("regulator", "admin")
def regulator_samples():
    s, viewer = db.session, load_current_user()
    return jsonify({"draws": [sampling.draw_json(r) for r in sampling.visible_draws(s, viewer)]})


@bp.post("/regulator/samples")
@api_auth("regulator")
def regulator_draw():
    s, viewer = db.session, load_current_user()
    body = json_body("kind", "n")
    row = sampling.make_draw(s, viewer, body["kind"], body["n"], body.get("region_code"))
    s.commit()  # in the ledger before the answer
    return jsonify(sampling.draw_json(row)), 201


@bp.get("/regulator/samples/<int:draw_id>")
@api_auth("regulator", "admin")
def regulator_sample(draw_id):
    s, viewer = db.session, load_current_user()
    row = s.get(SamplingDraw, draw_id)
    if row is None or not sampling.can_view_draw(viewer, row):
        raise ApiError(404, "not_found", "抽查记录不存在")
    return jsonify({**sampling.draw_json(row, with_population=True), "verification": sampling.verify_draw(s, row)})


@extend
def _paths():
    tag = "regulator"
    return {
        "/regulator/trainees": {"get": _op("按姓名或身份证号码（全号或后几位）查询可查看范围内的学员（已脱敏）及其班期", tag=tag,
                                           errors=(400, 401, 403))},
        "/regulator/trainees/{trainee_id}/trace": {"get": _op(
            "学员学习轨迹：会话、计入与未计入的计时片段（原因代码）、拍照核验、测验与考试答题、答疑、异常与风险评分、每日学时与学习时段",
            tag=tag)},
        "/regulator/anomalies": {"get": _op("异常线索：按风险评分排序的学员（各附最近一次核查处置 review，未核查为 null）与班期，"
                                            "附证据与权重表；参数 days（默认90）", tag=tag, errors=(400, 401, 403))},
        "/regulator/trainees/{trainee_id}/reviews": {
            "get": _op("学员的核查处置记录（监督检查记录），新的在前，第一条为当前结论；各附核查时的评分与异常线索快照。"
                       "辖区人社部门与学员所在机构人员可查看，学员本人不可", tag=tag),
            "post": _op("核查处置（仅学员所在辖区的人社部门）：记录结论与说明，连同此刻的异常线索与评分快照写入台账"
                        "（anomaly.reviewed）；后一次核查取代前一次的显示，两次都保留", ok=201, tag=tag,
                        errors=(400, 401, 403, 404, 415), body={
                            "conclusion": {"type": "string", "enum": list(reviews.CONCLUSIONS), "required": True,
                                           "description": "cleared 核查正常、violation 确认违规、watch 继续观察"},
                            "note": {"type": "string", "minLength": 1, "maxLength": reviews.NOTE_MAX, "required": True,
                                     "description": "核查说明"},
                            "days": {"type": "integer", "minimum": 1, "maximum": reviews.MAX_DAYS,
                                     "description": "快照统计最近几天开始的学习会话（缺省为全部）"}})},
        "/regulator/samples": {
            "get": _op("双随机抽查记录（本辖区）", tag=tag, errors=(401, 403)),
            "post": _op("双随机抽查：种子、总体人数与哈希、抽中名单先写入台账；draw(seed, ids, n) 按 SHA-256(seed:id) 升序取前 n 个",
                        ok=201, tag=tag, errors=(400, 401, 403, 409, 415), body={
                            "kind": {"type": "string", "enum": list(sampling.KINDS), "required": True},
                            "n": {"type": "integer", "minimum": 1, "maximum": sampling.MAX_N, "required": True},
                            "region_code": {"type": "string", "pattern": "^[0-9]{6}$"}})},
        "/regulator/samples/{draw_id}": {"get": _op("一次抽查：种子、总体名单、抽中名单与按台账的复核结果", tag=tag)},
    }
