"""Pages: quizzes and the exam for trainees; the question bank, exam settings, notices and Q&A for staff."""
import io

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from models import Attempt, BankQuestion, Course, TrainingClass, User
from tracker.accounts.rules import RuleError
from tracker.assessment import bank_files, qa, rules, services
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import events
from tracker.learning.manage import can_manage_course
from tracker.learning.services import chapter_in_trainee_classes
from tracker.learning.sessions import server_now
from tracker.proctoring import faces
from tracker.security import can_manage_class, class_or_abort, load_current_user, page_auth
from tracker.spreadsheets import XLSX_TYPE, download_name

bp = Blueprint("assessment", __name__)


@bp.app_context_processor
def _badge():
    def qa_unanswered():
        """Unanswered questions of the staff member's institution, for the badge in the navigation."""
        user = load_current_user()
        if user is None or user.role != "staff" or not user.institution_id:
            return 0
        return qa.unanswered_count(db.session, user.institution_id)

    return {"qa_unanswered": qa_unanswered}


def _open_attempt_id(s, user, kind, class_id, chapter_id=None):
    q = select(Attempt.id).where(Attempt.trainee_id == user.id, Attempt.kind == kind, Attempt.class_id == class_id,
                                 Attempt.status == "open")
    if chapter_id is not None:
        q = q.where(Attempt.chapter_id == chapter_id)
    return s.scalar(q.order_by(Attempt.id.desc()))


# ---------------------------------------------------------------------------------------------------------------------
# Trainees


@bp.get("/learn/chapters/<int:chapter_id>/quiz")
@page_auth("trainee")
def quiz(chapter_id):
    user, s = load_current_user(), db.session
    chapter, class_id = chapter_in_trainee_classes(s, user, chapter_id)
    if chapter is None:
        abort(404)
    credited, needed, missing = services.chapter_lock(s, user, chapter)
    attempts = [a for a in services.trainee_results(s, user) if a["kind"] == "quiz" and a["chapter_id"] == chapter.id]
    cls = s.get(TrainingClass, class_id)
    open_attempt = _open_attempt_id(s, user, "quiz", class_id, chapter.id)
    retake = services.quiz_retake(s, user, chapter, cls)
    refusal = None if retake.allowed or open_attempt else services.retake_refusal(retake).message
    return render_template("quiz.html", chapter=chapter, class_id=class_id, credited=credited, needed=needed,
                           missing=missing, attempts=attempts, share=services.quiz_unlock_share(),
                           open_attempt=open_attempt, retake=retake, refusal=refusal,
                           cooldown=services.quiz_retake_settings(s, cls)[1],
                           passed=any(a["passed"] for a in attempts),
                           questions=len(services.quiz_questions(s, chapter)))


@bp.get("/learn/classes/<int:class_id>/exam")
@page_auth("trainee")
def exam(class_id):
    user, s = load_current_user(), db.session
    cls = s.get(TrainingClass, class_id)
    if cls is None or not services.is_enrolled(s, user, cls.id):
        abort(404)
    credited, required, share, missing = services.exam_lock(s, user, cls)
    attempts = [a for a in services.trainee_results(s, user) if a["kind"] == "exam" and a["class_id"] == cls.id]
    return render_template("exam.html", cls=cls, credited=credited, required=required, share=share, missing=missing,
                           settings=services.exam_settings(s, cls), attempts=attempts,
                           passed=any(a["passed"] for a in attempts),
                           open_attempt=_open_attempt_id(s, user, "exam", cls.id), photo_messages=faces.MESSAGES)


@bp.route("/learn/chapters/<int:chapter_id>/qa", methods=["GET", "POST"])
@page_auth("trainee")
def chapter_qa(chapter_id):
    user, s = load_current_user(), db.session
    chapter, class_id = chapter_in_trainee_classes(s, user, chapter_id)
    if chapter is None:
        abort(404)
    error, text = None, ""
    if request.method == "POST":
        text = request.form.get("text", "")[:qa.MAX_POST + 10]
        try:
            qa.ask(s, user, chapter.id, text)
            events.commit(s)
            return redirect(url_for("assessment.chapter_qa", chapter_id=chapter.id))
        except (RuleError, ApiError) as e:
            s.rollback()
            events.discard(s)
            error = e.message
    threads = [qa.thread_json(s, qa.thread_for(s, user, t["thread_id"]))
               for t in qa.visible_threads(s, user, chapter.id)]
    return render_template("qa_chapter.html", chapter=chapter, threads=threads, error=error, text=text), \
        (400 if error else 200)


# ---------------------------------------------------------------------------------------------------------------------
# Q&A for everyone who may see it


@bp.get("/qa")
@page_auth()
def qa_inbox():
    user, s = load_current_user(), db.session
    if user.role == "trainee":
        return render_template("qa_inbox.html", threads=qa.visible_threads(s, user), unanswered=None)
    unanswered = qa.unanswered_count(s, user.institution_id) if user.role == "staff" else None
    return render_template("qa_inbox.html", threads=qa.visible_threads(s, user), unanswered=unanswered)


@bp.route("/qa/threads/<int:thread_id>", methods=["GET", "POST"])
@page_auth()
def qa_thread(thread_id):
    user, s = load_current_user(), db.session
    try:
        root = qa.thread_for(s, user, thread_id)
    except ApiError:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            qa.reply(s, user, root, request.form.get("text", "")[:qa.MAX_POST + 10])
            events.commit(s)
            return redirect(url_for("assessment.qa_thread", thread_id=root.id))
        except (RuleError, ApiError) as e:
            s.rollback()
            events.discard(s)
            if getattr(e, "status", 400) == 403:
                abort(403)
            error = e.message
    return render_template("qa_thread.html", thread=qa.thread_json(s, root), error=error,
                           can_reply=qa.can_answer_thread(s, user, root)), (400 if error else 200)


# ---------------------------------------------------------------------------------------------------------------------
# Notices


@bp.route("/classes/<int:class_id>/notices", methods=["GET", "POST"])
@page_auth("staff", "regulator", "admin")
def notices(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id)
    error = None
    if request.method == "POST":
        if not can_manage_class(user, cls):
            abort(403)
        try:
            qa.send_notice(s, cls, user, request.form.get("text", "")[:qa.MAX_NOTICE + 10])
            events.commit(s)
            return redirect(url_for("assessment.notices", class_id=cls.id))
        except RuleError as e:
            s.rollback()
            events.discard(s)
            error = e.message
    return render_template("qa_notices.html", cls=cls, notices=qa.class_notices(s, cls.id), error=error,
                           can_manage=can_manage_class(user, cls)), (400 if error else 200)


# ---------------------------------------------------------------------------------------------------------------------
# The question bank (题库)


def _course_or_403(s, user, course_id):
    course = s.get(Course, course_id)
    if course is None:
        abort(404)
    if not can_manage_course(user, course):
        abort(403)
    return course


def _question_form():
    f = request.form
    return {"type": f.get("type", "")[:20], "text": f.get("text", "")[:rules.MAX_TEXT + 10],
            "options": [f.get(f"option{i}", "")[:rules.MAX_OPTION_TEXT + 10] for i in range(rules.MAX_OPTIONS)],
            "key": f.get("key", "")[:rules.MAX_OPTION_TEXT * 4], "score": f.get("score", "")[:10],
            "chapter_id": f.get("chapter_id", "")[:10], "usage": f.get("usage", "")[:10]}


def _form_of(q):
    j = services.question_json(q)
    return {"type": j["type"], "text": j["text"], "options": j["options"] + [""] * (rules.MAX_OPTIONS - len(j["options"])),
            "key": j["key_text"], "score": f"{j['score']:g}", "chapter_id": str(j["chapter_id"] or ""),
            "usage": j["usage"]}


@bp.get("/manage/bank")
@page_auth("staff")
def bank_index():
    user, s = load_current_user(), db.session
    courses = s.scalars(select(Course).where(Course.institution_id == user.institution_id).order_by(Course.id)).all()
    counts = {c.id: len(services.active_questions(s, [c.id])) for c in courses}
    return render_template("bank.html", courses=courses, counts=counts)


@bp.route("/manage/courses/<int:course_id>/bank", methods=["GET", "POST"])
@page_auth("staff", "admin")
def bank_course(course_id):
    user, s = load_current_user(), db.session
    course = _course_or_403(s, user, course_id)
    error, form = None, {"type": "single", "options": [""] * rules.MAX_OPTIONS, "score": "2", "usage": "both"}
    if request.method == "POST":
        form = _question_form()
        try:
            services.add_question(s, course, user, form["type"], form["text"], form["options"], form["key"],
                                  form["score"], form["chapter_id"] or None, usage=form["usage"])
            s.commit()
            return redirect(url_for("assessment.bank_course", course_id=course.id))
        except RuleError as e:
            s.rollback()
            error = e.message
            course = _course_or_403(s, user, course_id)
    titles = {ch.id: ch.title for ch in course.chapters}
    questions = [services.question_json(q, titles) for q in services.active_questions(s, [course.id])]
    return render_template("bank_course.html", course=course, questions=questions, form=form, error=error,
                           kinds=rules.KINDS, letters=rules.LETTERS, usages=rules.USAGES), (400 if error else 200)


@bp.route("/manage/questions/<int:question_id>", methods=["GET", "POST"])
@page_auth("staff", "admin")
def bank_question(question_id):
    user, s = load_current_user(), db.session
    q = s.get(BankQuestion, question_id)
    if q is None:
        abort(404)
    course = _course_or_403(s, user, q.course_id)
    if services.is_retired(s, q):
        abort(404)
    error, form = None, _form_of(q)
    if request.method == "POST":
        form = _question_form()
        try:
            services.revise_question(s, q, user, form["type"], form["text"], form["options"], form["key"],
                                     form["score"], form["chapter_id"] or None, usage=form["usage"] or None)
            s.commit()
            return redirect(url_for("assessment.bank_course", course_id=course.id))
        except RuleError as e:
            s.rollback()
            error = e.message
            course = _course_or_403(s, user, q.course_id)
    return render_template("bank_question.html", course=course, question=q, form=form, error=error, kinds=rules.KINDS,
                           letters=rules.LETTERS, usages=rules.USAGES), (400 if error else 200)


@bp.post("/manage/questions/<int:question_id>/retire")
@page_auth("staff", "admin")
def bank_retire(question_id):
    user, s = load_current_user(), db.session
    q = s.get(BankQuestion, question_id)
    if q is None:
        abort(404)
    course = _course_or_403(s, user, q.course_id)
    services.retire_question(s, q, user)
    s.commit()
    return redirect(url_for("assessment.bank_course", course_id=course.id))


@bp.post("/manage/courses/<int:course_id>/bank/import")
@page_auth("staff", "admin")
def bank_import(course_id):
    user, s = load_current_user(), db.session
    course = _course_or_403(s, user, course_id)
    s.commit()  # release SQLite's write lock while the upload is read
    upload = request.files.get("file")
    filename = upload.filename if upload else ""
    data = upload.stream.read(bank_files.roster_import.MAX_FILE_BYTES + 1) if upload and filename else b""
    errors, result, message = [], None, None
    try:
        result = bank_files.import_bank(s, course, data, filename, user)
        s.commit()
    except RuleError as e:
        s.rollback()
        message, errors = e.message, getattr(e, "errors", [])
        course = _course_or_403(s, user, course_id)
    return render_template("bank_import.html", course=course, result=result, message=message, errors=errors,
                           max_rows=bank_files.MAX_ROWS), (400 if message else 200)


@bp.get("/manage/courses/<int:course_id>/bank.xlsx")
@page_auth("staff", "admin")
def bank_export(course_id):
    user, s = load_current_user(), db.session
    course = _course_or_403(s, user, course_id)
    data, name = bank_files.bank_xlsx(s, course), download_name(f"题库-{course.id}-{course.title}.xlsx")
    s.commit()
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX_TYPE, max_age=0)


# ---------------------------------------------------------------------------------------------------------------------
# The final exam of a class: settings and results


@bp.route("/manage/classes/<int:class_id>/exam", methods=["GET", "POST"])
@page_auth("staff", "regulator", "admin")
def exam_settings(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id)
    error = None
    if request.method == "POST":
        if not can_manage_class(user, cls):
            abort(403)
        f = request.form
        try:
            services.save_exam_settings(s, cls, user, f.get("time_limit_minutes"), f.get("pass_percent"),
                                        f.get("max_attempts"), f.get("question_count"), f.get("quiz_max_attempts"),
                                        f.get("quiz_cooldown_minutes"))
            s.commit()
            return redirect(url_for("assessment.exam_settings", class_id=cls.id))
        except RuleError as e:
            s.rollback()
            error = e.message
            cls = s.get(TrainingClass, class_id)
    rows = s.execute(select(Attempt, User.name).join(User, User.id == Attempt.trainee_id)
                     .where(Attempt.class_id == cls.id).order_by(Attempt.kind, Attempt.id.desc())).all()
    results = [{"attempt": a, "name": name, "review": services.exam_review(s, a) if a.kind == "exam" else None}
               for a, name in rows]
    quiz_attempts, quiz_cooldown = services.quiz_retake_settings(s, cls)
    return render_template("exam_settings.html", cls=cls, settings=services.exam_settings(s, cls), error=error,
                           results=results, can_manage=can_manage_class(user, cls),
                           questions=len(services.active_questions(s, [c.id for c in cls.courses], paper="exam")),
                           quiz_max_attempts=quiz_attempts, quiz_cooldown_minutes=quiz_cooldown,
                           now=server_now()), (400 if error else 200)
