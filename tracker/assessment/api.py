"""API: chapter quizzes, the final exam, attempts, the question bank, Q&A and class notices."""
from flask import jsonify, request

from models import Attempt, BankQuestion, Course, TrainingClass, User
from tracker.api import bp, json_body
from tracker.api.openapi import _op, extend
from tracker.assessment import qa, services
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import events
from tracker.learning.manage import can_manage_course
from tracker.learning.services import chapter_in_trainee_classes
from tracker.learning.sessions import server_now
from tracker.security import api_auth, can_manage_class, can_view_class, evidence_scope, load_current_user, scope_allows


def _class(s, class_id, check=can_view_class):
    cls = s.get(TrainingClass, class_id)
    user = load_current_user()
    if cls is None or (check is not None and not check(user, cls)):
        raise ApiError(404, "not_found", "班期不存在或无权查看")
    return cls


# ---------------------------------------------------------------------------------------------------------------------
# Quizzes and the exam (the contract of API.md)


@bp.post("/chapters/<int:chapter_id>/quiz/attempts")
@api_auth("trainee")
def quiz_start(chapter_id):
    s, trainee = db.session, load_current_user()
    attempt = services.start_quiz(s, trainee, chapter_id)
    body = services.attempt_json(s, attempt)
    s.commit()
    return jsonify(body), 201


@bp.get("/chapters/<int:chapter_id>/quiz")
@api_auth("trainee")
def quiz_status(chapter_id):
    s, trainee = db.session, load_current_user()
    chapter, class_id = chapter_in_trainee_classes(s, trainee, chapter_id)
    if chapter is None:
        raise ApiError(404, "not_found", "章节不存在，或您不在包含该章节的班期中")
    credited, needed, missing = services.chapter_lock(s, trainee, chapter)
    attempts = [a for a in services.trainee_results(s, trainee) if a["kind"] == "quiz" and a["chapter_id"] == chapter.id]
    cls = s.get(TrainingClass, class_id)
    retake = services.quiz_retake(s, trainee, chapter, cls)
    refusal = None if retake.allowed else services.retake_refusal(retake)
    return jsonify({"chapter_id": chapter.id, "class_id": class_id, "unlocked": not missing,
                    "credited_seconds": round(credited, 1), "required_seconds": round(needed, 1),
                    "missing_seconds": missing, "questions": len(services.quiz_questions(s, chapter)),
                    "attempts": attempts, "passed": any(a["passed"] for a in attempts),
                    "max_attempts": retake.max_attempts, "used_attempts": retake.used,
                    "cooldown_minutes": services.quiz_retake_settings(s, cls)[1],
                    "retake": None if refusal is None else {"code": refusal.code, "message": refusal.message,
                                                            **{k: refusal.extra[k] for k in ("retry_after", "retry_at")
                                                               if k in refusal.extra}}})


@bp.post("/classes/<int:class_id>/exam/attempts")
@api_auth("trainee")
def exam_start(class_id):
    s, trainee = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    if cls is None:
        raise ApiError(404, "not_found", "班期不存在或您不在该班期中")
    attempt = services.start_exam(s, trainee, cls)
    body = services.attempt_json(s, attempt)
    s.commit()
    return jsonify(body), 201


@bp.get("/classes/<int:class_id>/exam")
@api_auth("trainee")
def exam_status(class_id):
    s, trainee = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    if cls is None or not services.is_enrolled(s, trainee, cls.id):
        raise ApiError(404, "not_found", "班期不存在或您不在该班期中")
    credited, required, share, missing = services.exam_lock(s, trainee, cls)
    settings = services.exam_settings(s, cls)
    attempts = [a for a in services.trainee_results(s, trainee) if a["kind"] == "exam" and a["class_id"] == cls.id]
    return jsonify({"class_id": cls.id, "unlocked": not missing, "credited_seconds": round(credited, 1),
                    "required_seconds": round(required, 1), "unlock_share": share, "missing_seconds": missing,
                    "time_limit_minutes": settings.time_limit_minutes, "pass_percent": settings.pass_percent,
                    "max_attempts": settings.max_attempts, "attempts": attempts,
                    "passed": any(a["passed"] for a in attempts)})


def _own_attempt(attempt_id, lock=True):
    s, trainee = db.session, load_current_user()
    attempt = services.attempt_for(s, attempt_id, trainee, lock=lock)
    if services.expire_if_due(s, attempt, server_now()):
        events.commit(s)  # handed in at the deadline: committed before any refusal below
    return s, attempt


@bp.get("/attempts/<int:attempt_id>")
@api_auth()
def attempt_get(attempt_id):
    """The trainee's own attempt (to resume it); staff and the regulator who may see the trainee read it too."""
    s, user = db.session, load_current_user()
    if user.role == "trainee":
        s, attempt = _own_attempt(attempt_id, lock=False)
    else:
        attempt = _viewable_attempt(s, user, attempt_id)
    return jsonify(services.attempt_json(s, attempt))


def _viewable_attempt(s, user, attempt_id):
    attempt = s.get(Attempt, attempt_id)
    trainee = s.get(User, attempt.trainee_id) if attempt else None
    if attempt is None or user.role == "trainee" or not scope_allows(evidence_scope(s, user, trainee), attempt.class_id):
        raise ApiError(404, "not_found", "试卷不存在")
    return attempt


@bp.get("/attempts/<int:attempt_id>/paper")
@api_auth("staff", "regulator", "admin")
def attempt_paper(attempt_id):
    """For an inspector: the paper rebuilt from its seed and the bank, with keys, answers and the check that it
    matches what was drawn."""
    s, user = db.session, load_current_user()
    return jsonify(services.inspect_paper(s, _viewable_attempt(s, user, attempt_id)))


@bp.post("/attempts/<int:attempt_id>/answers")
@api_auth("trainee")
def attempt_answer(attempt_id):
    data = json_body("question_id")
    if "answer" not in data:
        raise ApiError(400, "missing_field", "缺少必填字段：answer", fields=["answer"])
    s, attempt = _own_attempt(attempt_id)
    result = services.record_answer(s, attempt, data["question_id"], data["answer"])
    s.commit()
    return jsonify(result)


@bp.post("/attempts/<int:attempt_id>/submit")
@api_auth("trainee")
def attempt_submit(attempt_id):
    s, trainee = db.session, load_current_user()
    attempt = services.attempt_for(s, attempt_id, trainee, lock=True)
    if attempt.status != "open":
        raise ApiError(409, "attempt_closed", "试卷已交卷")
    services.submit(s, attempt)
    body = services.result_json(s, attempt)
    s.commit()
    return jsonify(body)


@bp.post("/attempts/<int:attempt_id>/events")
@api_auth("trainee")
def attempt_event(attempt_id):
    data = json_body("event")
    s, attempt = _own_attempt(attempt_id)
    result = services.page_event(s, attempt, data["event"])
    s.commit()
    return jsonify(result)


# ---------------------------------------------------------------------------------------------------------------------
# The question bank and the exam settings (staff)


def _course(s, course_id):
    course = s.get(Course, course_id)
    if course is None or not can_manage_course(load_current_user(), course):
        raise ApiError(404, "not_found", "课程不存在或无权管理")
    return course


@bp.get("/courses/<int:course_id>/questions")
@api_auth("staff", "admin")
def bank_list(course_id):
    s = db.session
    course = _course(s, course_id)
    titles = {ch.id: ch.title for ch in course.chapters}
    return jsonify({"course_id": course.id,
                    "questions": [services.question_json(q, titles) for q in services.active_questions(s, [course.id])]})


@bp.post("/courses/<int:course_id>/questions")
@api_auth("staff", "admin")
def bank_add(course_id):
    s, user = db.session, load_current_user()
    course = _course(s, course_id)
    data = json_body("type", "text", "score")
    q = services.add_question(s, course, user, data["type"], data["text"], data.get("options") or [], data.get("key"),
                              data["score"], data.get("chapter_id"), usage=data.get("usage"))
    s.commit()
    return jsonify(services.question_json(q)), 201


@bp.post("/questions/<int:question_id>/retire")
@api_auth("staff", "admin")
def bank_retire(question_id):
    s, user = db.session, load_current_user()
    q = s.get(BankQuestion, question_id)
    if q is None:
        raise ApiError(404, "not_found", "题目不存在")
    _course(s, q.course_id)
    services.retire_question(s, q, user)
    s.commit()
    return jsonify({"question_id": q.id, "retired": True})


@bp.route("/classes/<int:class_id>/exam/settings", methods=["GET", "PUT"])
@api_auth("staff", "regulator", "admin")
def exam_settings_api(class_id):
    s, user = db.session, load_current_user()
    cls = _class(s, class_id)
    if request.method == "PUT":
        if not can_manage_class(user, cls):
            raise ApiError(403, "forbidden", "只能设置本机构班期的结业考试")
        data = json_body("time_limit_minutes", "pass_percent", "max_attempts", "question_count")
        services.save_exam_settings(s, cls, user, data["time_limit_minutes"], data["pass_percent"],
                                    data["max_attempts"], data["question_count"], data.get("quiz_max_attempts"),
                                    data.get("quiz_cooldown_minutes"))
        s.commit()
    row = services.exam_settings(s, cls)
    quiz_attempts, quiz_cooldown = services.quiz_retake_settings(s, cls)
    return jsonify({"class_id": cls.id, "time_limit_minutes": row.time_limit_minutes, "pass_percent": row.pass_percent,
                    "max_attempts": row.max_attempts, "question_count": row.question_count,
                    "quiz_max_attempts": quiz_attempts, "quiz_cooldown_minutes": quiz_cooldown})


# ---------------------------------------------------------------------------------------------------------------------
# Q&A and notices


@bp.post("/chapters/<int:chapter_id>/qa")
@api_auth("trainee")
def qa_ask(chapter_id):
    s, trainee = db.session, load_current_user()
    data = json_body("text")
    post = qa.ask(s, trainee, chapter_id, data["text"])
    events.commit(s)
    return jsonify(qa.thread_json(s, post)), 201


@bp.get("/qa/threads")
@api_auth()
def qa_threads():
    s, user = db.session, load_current_user()
    chapter_id = request.args.get("chapter_id", type=int)
    body = {"threads": qa.visible_threads(s, user, chapter_id)}
    if user.role == "staff":
        body["unanswered"] = qa.unanswered_count(s, user.institution_id)
    return jsonify(body)


@bp.get("/qa/threads/<int:thread_id>")
@api_auth()
def qa_thread(thread_id):
    s, user = db.session, load_current_user()
    return jsonify(qa.thread_json(s, qa.thread_for(s, user, thread_id)))


@bp.post("/qa/threads/<int:thread_id>/posts")
@api_auth("trainee", "staff", "admin")
def qa_reply(thread_id):
    s, user = db.session, load_current_user()
    data = json_body("text")
    root = qa.thread_for(s, user, thread_id)
    post = qa.reply(s, user, root, data["text"])
    events.commit(s)
    return jsonify(qa.post_json(post, user)), 201


@bp.route("/classes/<int:class_id>/notices", methods=["GET", "POST"])
@api_auth()
def class_notices(class_id):
    s, user = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    enrolled = cls is not None and user.role == "trainee" and services.is_enrolled(s, user, cls.id)
    if cls is None or not (enrolled or can_view_class(user, cls)):
        raise ApiError(404, "not_found", "班期不存在或无权查看")
    if request.method == "POST":
        data = json_body("text")
        notice = qa.send_notice(s, cls, user, data["text"])
        events.commit(s)
        return jsonify(qa.notice_json(notice, user)), 201
    return jsonify({"class_id": cls.id, "notices": qa.class_notices(s, cls.id)})


@extend
def _paths():
    attempt = {"type": "object", "properties": {
        "attempt_id": {"type": "integer"}, "deadline": {"type": ["string", "null"]},
        "check": {"type": ["object", "null"]},
        "questions": {"type": "array", "items": {"type": "object", "properties": {
            "question_id": {"type": "integer"}, "type": {"enum": ["single", "multiple", "truefalse", "fill"]},
            "text": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}},
            "score": {"type": "number"}}}}}}
    def text():
        return {"text": {"type": "string", "required": True, "maxLength": qa.MAX_POST}}

    return {
        "/chapters/{chapter_id}/quiz": {"get": _op(
            "章节测验状态（是否解锁、还差秒数、历次成绩、是否已合格；max_attempts、used_attempts、cooldown_minutes；"
            "不能再参加时 retake 为 {code, message, retry_after, retry_at}，与开始测验的409相同）",
            tag="assessment")},
        "/chapters/{chapter_id}/quiz/attempts": {"post": _op(
            "开始章节测验（本章有效学时达到95%后）；只从用途为“测验”或“通用”的本章题目中随机抽题、选项乱序，不含答案；"
            "未解锁时409 quiz_locked 与 missing_seconds；次数用完时409 quiz_retake_limit（max_attempts、used_attempts）；"
            "两次之间未到间隔时409 quiz_cooldown（retry_after 秒、retry_at）；未交卷时409 attempt_open 与 attempt_id",
            ok=201, ok_schema=attempt, tag="assessment", errors=(401, 403, 404, 409))},
        "/classes/{class_id}/exam": {"get": _op("结业考试状态（是否解锁、还差秒数、次数、成绩）", tag="assessment")},
        "/classes/{class_id}/exam/attempts": {"post": _op(
            "开始结业考试（有效学时达到要求学时的95%后）；只从用途为“考试”或“通用”的题目中抽题；返回截止时间与开考拍照核验；"
            "未解锁时409 exam_locked 与 missing_seconds",
            ok=201, ok_schema=attempt, tag="assessment", errors=(401, 403, 404, 409))},
        "/classes/{class_id}/exam/settings": {
            "get": _op("结业考试设置", tag="assessment"),
            "put": _op("修改结业考试设置（本机构人员）", tag="assessment", body={
                "time_limit_minutes": {"type": "integer", "required": True, "minimum": 5, "maximum": 600},
                "pass_percent": {"type": "number", "required": True, "minimum": 1, "maximum": 100},
                "max_attempts": {"type": "integer", "required": True, "minimum": 1, "maximum": 10},
                "question_count": {"type": "integer", "required": True, "minimum": 0},
                "quiz_max_attempts": {"type": "integer", "minimum": 1, "maximum": 20,
                                      "description": "每章测验最多次数；缺省不变（平台默认 TRACKER_QUIZ_MAX_ATTEMPTS，3）"},
                "quiz_cooldown_minutes": {"type": "integer", "minimum": 0, "maximum": 1440,
                                          "description": "两次测验之间的间隔分钟；缺省不变（平台默认 TRACKER_QUIZ_COOLDOWN_MINUTES，10）"}})},
        "/attempts/{attempt_id}": {"get": _op("试卷（本人续答；本机构与辖区人社部门查看）；交卷前不含答案", tag="assessment")},
        "/attempts/{attempt_id}/paper": {"get": _op("按随机种子重建试卷并核对（检查人员用，含答案）", tag="assessment")},
        "/attempts/{attempt_id}/answers": {"post": _op(
            "提交一题答案，立即以服务器时间记入台账；单选为显示的选项序号，多选为序号列表，判断为 true/false，填空为文字",
            tag="assessment", errors=(400, 401, 403, 404, 409),
            body={"question_id": {"type": "integer", "required": True}, "answer": {"required": True}})},
        "/attempts/{attempt_id}/submit": {"post": _op(
            "交卷；服务器评分，返回 score、max_score、passed。章节测验另有 results：每题 question_id、answered、usage、revealed；"
            "仅“测验”用途的题（revealed 为 true）给出 correct、score 与 key（显示的选项序号）；可能出现在结业考试中的题不给对错和答案，"
            "withheld 为这类题的数目。结业考试从不返回答案", tag="assessment", errors=(401, 403, 404, 409))},
        "/attempts/{attempt_id}/events": {"post": _op("考试页面离开/返回（hidden、visible、blur、focus）记入台账；ping 取待拍照核验",
                                                      tag="assessment", body={"event": {"type": "string", "required": True,
                                                      "enum": list(services.PAGE_EVENTS)}})},
        "/courses/{course_id}/questions": {
            "get": _op("课程题库（含答案，本机构人员）", tag="assessment"),
            "post": _op("添加题目", ok=201, tag="assessment", body={
                "type": {"enum": ["single", "multiple", "truefalse", "fill"], "required": True},
                "text": {"type": "string", "required": True}, "options": {"type": "array"},
                "key": {"description": "单选 \"B\"，多选 \"ACD\"，判断 true/false，填空 \"答案1|答案2\""},
                "score": {"type": "number", "required": True}, "chapter_id": {"type": ["integer", "null"]},
                "usage": {"enum": ["quiz", "exam", "both", "测验", "考试", "通用"],
                          "description": "测验：只用于章节测验，交卷后公布答案；考试：只用于结业考试；通用：两者均可，测验中不公布对错和答案。"
                                         "缺省：有章节为通用，整门课程为考试"}})},
        "/questions/{question_id}/retire": {"post": _op("从题库删除题目（已抽到的试卷不受影响）", tag="assessment")},
        "/chapters/{chapter_id}/qa": {"post": _op("学员就章节提问", ok=201, tag="qa", body=text())},
        "/qa/threads": {"get": _op("可见的答疑（学员本人、本机构、辖区），未答复在前", tag="qa")},
        "/qa/threads/{thread_id}": {"get": _op("答疑详情", tag="qa")},
        "/qa/threads/{thread_id}/posts": {"post": _op("回复答疑（本机构老师；提问学员可追问）", ok=201, tag="qa", body=text())},
        "/classes/{class_id}/notices": {
            "get": _op("班期通知", tag="qa"),
            "post": _op("向班期发送通知（实时推送到在线学员的播放页：/learn 的 notice 事件）", ok=201, tag="qa",
                        body={"text": {"type": "string", "required": True, "maxLength": qa.MAX_NOTICE}})},
    }
