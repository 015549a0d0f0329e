"""Pages for institution staff (课程管理, 新建班期, roster import and export) and the chapter video stream."""
import io

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from models import Chapter, Course
from tracker.accounts.rules import RuleError
from tracker.extensions import db
from tracker.learning import manage, roster_import
from tracker.learning.policy import FORMS, PROFILES, class_hours
from tracker.security import can_manage_class, can_view_class, class_or_abort, load_current_user, page_auth
from tracker.spreadsheets import XLSX_TYPE, download_name

bp = Blueprint("manage", __name__)

CLASS_FIELDS = ("name", "occupation", "form", "start_date", "end_date", "total_hours", "online_hours", "policy_profile")


def _release(s):
    """End the request's transaction (and SQLite's write lock) before slow work such as reading an upload."""
    s.commit()


def _course_or_403(s, user, course_id):
    course = s.get(Course, course_id)
    if course is None:
        abort(404)
    if not manage.can_manage_course(user, course):
        abort(403)
    return course


def _institution_courses(s, institution_id):
    return s.scalars(select(Course).where(Course.institution_id == institution_id).order_by(Course.id)).all()


# ---------------------------------------------------------------------------------------------------------------------
# 课程管理


@bp.route("/manage/courses", methods=["GET", "POST"])
@page_auth("staff")
def courses():
    user, s = load_current_user(), db.session
    error, form = None, {}
    if request.method == "POST":
        form = {k: request.form.get(k, "")[:2000] for k in ("title", "description")}
        try:
            course = manage.create_course(s, user.institution, form["title"], form["description"], actor=user)
            s.commit()
            return redirect(url_for("manage.course_detail", course_id=course.id))
        except RuleError as e:
            s.rollback()
            error = e.message
    rows = [{"course": c, "seconds": sum(ch.seconds for ch in c.chapters)} for c in _institution_courses(s, user.institution_id)]
    return render_template("manage_courses.html", rows=rows, form=form, error=error,
                           class_hours=class_hours), (400 if error else 200)


@bp.route("/manage/courses/<int:course_id>", methods=["GET", "POST"])
@page_auth("staff", "admin")
def course_detail(course_id):
    user, s = load_current_user(), db.session
    course = _course_or_403(s, user, course_id)
    error, title = None, ""
    if request.method == "POST":
        _release(s)
        title = request.form.get("title", "")[:200]
        upload = request.files.get("video")
        try:
            chapter = manage.add_chapter(s, course, title, upload.stream if upload and upload.filename else None,
                                         upload.filename if upload else "", actor=user)
            try:
                s.commit()
            except BaseException:
                (manage.media_dir() / chapter.video_file).unlink(missing_ok=True)
                raise
            return redirect(url_for("manage.course_detail", course_id=course.id))
        except RuleError as e:
            s.rollback()
            error = e.message
        course = _course_or_403(s, user, course_id)
    return render_template("manage_course.html", course=course, error=error, title_value=title,
                           class_hours=class_hours, video_types=", ".join(manage.VIDEO_TYPES)), (400 if error else 200)


# ---------------------------------------------------------------------------------------------------------------------
# 新建班期


@bp.route("/manage/classes/new", methods=["GET", "POST"])
@page_auth("staff")
def new_class():
    user, s = load_current_user(), db.session
    error, form, selected = None, {"form": FORMS[0], "policy_profile": "standard"}, set()
    if request.method == "POST":
        form = {k: request.form.get(k, "")[:200] for k in CLASS_FIELDS}
        selected = set(request.form.getlist("course_ids"))
        try:
            cls = manage.create_class(s, user.institution, form["name"], form["occupation"], form["form"],
                                      form["start_date"], form["end_date"], form["total_hours"], form["online_hours"],
                                      form["policy_profile"], request.form.getlist("course_ids"), actor=user)
            s.commit()
            return redirect(url_for("learning.class_detail", class_id=cls.id))
        except RuleError as e:
            s.rollback()
            error = e.message
    return render_template("manage_class_new.html", form=form, selected=selected, error=error, forms=FORMS,
                           profiles=PROFILES.values(), courses=_institution_courses(s, user.institution_id)), \
        (400 if error else 200)


# ---------------------------------------------------------------------------------------------------------------------
# Roster file: import and export


@bp.post("/manage/classes/<int:class_id>/roster/import")
@page_auth("staff", "admin")
def roster_import_file(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id, can_manage_class)
    _release(s)
    upload = request.files.get("file")
    filename = upload.filename if upload else ""
    data = upload.stream.read(roster_import.MAX_FILE_BYTES + 1) if upload and filename else b""
    errors, result, message = [], None, None
    try:
        result = roster_import.import_roster(s, cls, data, filename, user)
        s.commit()
    except RuleError as e:
        s.rollback()
        message, errors = e.message, getattr(e, "errors", [])
        cls = class_or_abort(s, user, class_id, can_manage_class)
    return render_template("roster_import.html", cls=cls, result=result, message=message, errors=errors,
                           max_rows=roster_import.MAX_ROWS), (400 if message else 200)


@bp.get("/manage/classes/<int:class_id>/roster.xlsx")
@page_auth("staff", "regulator", "admin")
def roster_export(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id, can_view_class)
    data, name = roster_import.roster_xlsx(s, cls), download_name(f"花名册-{cls.id}-{cls.name}.xlsx")
    _release(s)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX_TYPE, max_age=0)


# ---------------------------------------------------------------------------------------------------------------------
# Video


@bp.get("/media/chapters/<int:chapter_id>/video")
@bp.get("/media/chapters/<int:chapter_id>/video.<any(webm, mp4, m4v, mov):ext>")  # says "a video file" to a live room
def chapter_video(chapter_id, ext=None):
    """The chapter's video with HTTP range requests (206 + Content-Range), so that seeking works on phones."""
    user, s = load_current_user(), db.session
    if user is None:
        abort(401)
    chapter = s.get(Chapter, chapter_id)
    if chapter is None:
        abort(404)
    if not manage.can_watch_chapter(s, user, chapter):
        abort(403)
    path = manage.video_path(chapter)
    if path is None:
        abort(404)
    _release(s)
    return video_response(path)


def video_response(path):
    """A stored video with HTTP range requests (206 + Content-Range); also a live lecture's recording."""
    response = send_file(path, mimetype=manage.VIDEO_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                         conditional=True, etag=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
