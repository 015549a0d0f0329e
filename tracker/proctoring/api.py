"""/api/v1 routes of proctoring: enrol a face, answer a photo check, list flags. Routes only translate."""
from flask import current_app, g, jsonify, request

from tracker.api import bp
from tracker.api.openapi import _op, extend
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning.sessions import server_now
from tracker.proctoring import faces, services
from tracker.proctoring.workers import pool_for
from tracker.security import api_auth, load_current_user


def uploaded_image(field="image"):
    """The bytes of one uploaded file (multipart), or a 400/413 that says what is wrong."""
    f = request.files.get(field)
    if f is None:
        raise ApiError(400, "missing_field", "请上传照片（multipart 字段 image）", fields=[field])
    data = f.read(faces.MAX_BYTES + 1)
    if not data:
        raise ApiError(400, "unreadable", "上传的照片是空的")
    if len(data) > faces.MAX_BYTES:
        raise ApiError(413, "too_large", faces.MESSAGES["too_large"])
    return data


def camera_label():
    """The camera's label as the page read it (MediaStreamTrack.label); optional, None when not sent."""
    return request.form.get("camera_label")


def uploaded_burst():
    """The frames of a burst: `frames` parts, and `image` parts after the first (several images are a burst)."""
    files = (request.files.getlist("image")[1:] + request.files.getlist("frames"))[:services.MAX_BURST]
    burst = [f.read(faces.MAX_BYTES + 1) for f in files]
    if any(len(b) > faces.MAX_BYTES for b in burst):
        raise ApiError(413, "too_large", faces.MESSAGES["too_large"])
    return burst


@bp.get("/me/face")
@api_auth("trainee")
def my_face():
    # The player asks this just before its first photo: the workers load their models meanwhile.
    pool_for(current_app.config).warm()
    return jsonify(services.face_status(db.session, load_current_user()))


@bp.post("/me/face")
@api_auth("trainee")
def enrol_face():
    user = load_current_user()
    data = uploaded_image()
    # Where the photo came from is what the server knows (the signed-in page or a token), never a client's "source".
    source = "page" if g.auth_via == "cookie" else "api"
    result = services.enrol(db.session, user, data, source, request.remote_addr, camera_label())
    return jsonify(result), 201


@bp.get("/photo-checks/<int:check_id>")
@api_auth("trainee")
def photo_check_detail(check_id):
    s, user = db.session, load_current_user()
    check = services.check_for_trainee(s, user.id, check_id)
    return jsonify(services.check_json(s, check, server_now()))


@bp.post("/photo-checks/<int:check_id>")
@api_auth("trainee")
def photo_check_answer(check_id):
    user = load_current_user()
    data = uploaded_image()
    return jsonify(services.verify_check(db.session, user.id, check_id, data, uploaded_burst(), camera_label()))


@bp.get("/face-flags")
@api_auth("staff", "regulator", "admin")
def face_flags():
    s, viewer = db.session, load_current_user()
    return jsonify({"flags": [services.flag_json(s, viewer, f) for f in services.visible_flags(s, viewer)]})


@bp.get("/face-reviews")
@api_auth("staff", "regulator", "admin")
def face_reviews():
    s, viewer = db.session, load_current_user()
    pending = request.args.get("status") == "pending"
    return jsonify({"changes": [services.change_json(s, viewer, e)
                                for e in services.visible_changes(s, viewer, pending_only=pending)]})


@bp.post("/face-reviews/<int:enrolment_id>")
@api_auth("staff", "regulator", "admin")
def face_review_decide(enrolment_id):
    s, viewer = db.session, load_current_user()
    body = request.get_json(silent=True) or request.form
    if not hasattr(body, "get"):
        raise ApiError(400, "bad_request", "请求体须为 JSON 对象：decision 和 note")
    decision = body.get("decision")
    if decision not in ("approve", "refuse"):
        raise ApiError(400, "invalid_field", "decision 须为 approve（同意）或 refuse（不同意）", field="decision")
    enrolment = services.review_change(s, viewer, enrolment_id, decision == "approve", body.get("note"))
    s.commit()
    return jsonify(services.change_json(s, viewer, enrolment))


def _multipart(fields):
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": fields, "required": ["image"]}}}}


@extend
def _paths():
    image = {"type": "string", "format": "binary", "description": "JPEG 或 PNG，最大 8 MB"}
    enrol = _op("登记本人人脸（须已同意人脸信息处理）；同一人脸已登记在其他账号下时拒绝并记为疑似代刷", ok=201,
                tag="proctoring", errors=(400, 401, 403, 409, 413, 422, 503))
    label = {"type": "string", "maxLength": 200, "description": "摄像头名称（浏览器 MediaStreamTrack.label），可选；"
             "已知虚拟摄像头（OBS、ManyCam、XSplit、Snap Camera、名称含 virtual 等）被拒绝（virtual_camera），名称随照片存证"}
    enrol["requestBody"] = _multipart({"image": image, "camera_label": label, "source": {
        "type": "string", "deprecated": True, "description": "不再使用：服务器不采信客户端自报的照片来源"}})
    enrol["description"] = ("首次登记立即生效；再次登记为人脸更换申请（status=pending），须学员所在培训机构审核同意后才替换原人脸，"
                            "此前签到和拍照核验仍与原人脸比对")
    answer = _op("提交拍照核验的照片；200 时 verdict 为 pass 或 fail（reason 说明原因）", tag="proctoring",
                 errors=(400, 401, 403, 404, 409, 413, 503), ok_schema={"type": "object", "properties": {
                     "verdict": {"enum": ["pass", "fail"]}, "reason": {"type": ["string", "null"]},
                     "distance": {"type": ["number", "null"]}}})
    answer["requestBody"] = _multipart({"image": image, "camera_label": label, "frames": {"type": "array", "items": image,
                                                                   "description": "连拍帧（约 1.5 秒内拍 3–6 张；也可作为多个 image 字段发送）："
                                                                   "与照片同为一张静止图片（重复、重新压缩或整体移动缩放）时核验不通过（still_image），"
                                                                   "实时画面则不因与之前的照片相似而判为重复；班期要求活体检测时用于检测眨眼"}})
    review = _op("审核人脸更换：decision=approve|refuse，note 必填；学员所在培训机构的工作人员或管理员（人社部门只读）",
                 tag="proctoring", errors=(400, 401, 403, 404, 409))
    review["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["decision", "note"], "properties": {
            "decision": {"enum": ["approve", "refuse"]}, "note": {"type": "string", "maxLength": 500}}}}}}
    return {
        "/me/face": {"get": _op("本人人脸登记状态", tag="proctoring", errors=(401, 403)), "post": enrol},
        "/photo-checks/{check_id}": {"get": _op("拍照核验的状态（是否需要活体检测）", tag="proctoring"), "post": answer},
        "/face-flags": {"get": _op("可见范围内的人脸异常（疑似代刷等）", tag="proctoring", errors=(401, 403))},
        "/face-reviews": {"get": _op("可见范围内的人脸更换申请（?status=pending 只列待审核），含新旧照片编号和人脸距离",
                                     tag="proctoring", errors=(401, 403))},
        "/face-reviews/{enrolment_id}": {"post": review},
    }
