"""Pages of live lectures (直播): the class page's schedule forms for staff, attendance, the recording's
stream, and the trainee's live room and replay. The rules are in lectures.py and sessions.py."""
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for

from models import LectureProgress, LiveLecture
from tracker.accounts.rules import RuleError
from tracker.assessment import qa
from tracker.extensions import db
from tracker.headers import allow_origin
from tracker.learning import lectures, manage, sessions
from tracker.learning.crediting import CST, REASON_LABELS
from tracker.learning.manage_routes import video_response
from tracker.learning.routes import render_class
from tracker.security import can_manage_class, can_view_class, class_or_abort, load_current_user, page_auth

bp = Blueprint("lectures", __name__)

FORM_FIELDS = ("title", "teacher", "stream_url", "date", "start", "end")


def _when(ts):
    return datetime.fromtimestamp(ts, CST)


def form_values(lecture=None):
    """The schedule form's fields: what was typed, else the lecture's schedule in China Standard Time."""
    if request.method == "POST":
        return {k: request.form.get(k, "").strip()[:500] for k in FORM_FIELDS}
    if lecture is None:
        return {}
    start, end = _when(lecture.starts_ts), _when(lecture.ends_ts)
    return {"title": lecture.title, "teacher": lecture.teacher, "stream_url": lecture.stream_url,
            "date": start.strftime("%Y-%m-%d"), "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


def _times(form):
    """The form's date and clock times as the naive (CST) ISO times lectures.parse_time reads."""
    for key, label in (("date", "直播日期"), ("start", "开始时间"), ("end", "结束时间")):
        if not form.get(key):
            raise RuleError("missing_field", f"请填写{label}", key)
    return f"{form['date']}T{form['start']}", f"{form['date']}T{form['end']}"


def class_lectures_view(s, cls, lecture_form=None, lecture_error=None, error_lecture_id=None):
    """What the class page's 直播课 section shows."""
    now = sessions.server_now()
    rows = []
    for x in lectures.class_lectures(s, cls):
        start, end = _when(x.starts_ts), _when(x.ends_ts)
        rows.append({**lectures.lecture_json(x, now), "stream_url": x.stream_url,
                     "when": f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}" if start.date() == end.date()
                     else f"{start:%Y-%m-%d %H:%M}–{end:%m-%d %H:%M}"})
    return {"lectures": rows, "lecture_form": lecture_form or {}, "lecture_error": lecture_error,
            "error_lecture_id": error_lecture_id}


def _lecture(s, user, lecture_id, check=can_view_class):
    lecture = s.get(LiveLecture, lecture_id)
    if lecture is None:
        abort(404)
    if not check(user, lecture.training_class):
        abort(403)
    return lecture


def _back(lecture):
    return redirect(url_for("learning.class_detail", class_id=lecture.class_id) + "#lectures")


@bp.post("/classes/<int:class_id>/lectures")
@page_auth("staff", "admin")
def schedule(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id, can_manage_class)
    form = form_values()
    try:
        lecture = lectures.schedule_lecture(s, cls, user, form["title"], form["teacher"], form["stream_url"],
                                            *_times(form), sessions.server_now())
        s.commit()
    except RuleError as e:
        s.rollback()
        return render_class(s, user, class_or_abort(s, user, class_id, can_manage_class),
                            lecture_form=form, lecture_error=e.message)
    return _back(lecture)


@bp.route("/lectures/<int:lecture_id>/edit", methods=["GET", "POST"])
@page_auth("staff", "admin")
def edit(lecture_id):
    user, s = load_current_user(), db.session
    lecture = _lecture(s, user, lecture_id, can_manage_class)
    form, error = form_values(lecture), None
    if request.method == "POST":
        try:
            lectures.change_lecture(s, lecture, user, form["title"], form["teacher"], form["stream_url"], *_times(form),
                                    sessions.server_now())
            s.commit()
            return _back(lecture)
        except RuleError as e:
            s.rollback()
            error = e.message
            lecture = _lecture(s, user, lecture_id, can_manage_class)
    state = lectures.state(lecture, sessions.server_now())
    return render_template("lecture_edit.html", lecture=lecture, form=form, error=error, state=state,
                           state_label=lectures.STATES[state]), (400 if error else 200)


@bp.post("/lectures/<int:lecture_id>/cancel")
@page_auth("staff", "admin")
def cancel(lecture_id):
    user, s = load_current_user(), db.session
    lecture = _lecture(s, user, lecture_id, can_manage_class)
    try:
        lectures.cancel_lecture(s, lecture, user, request.form.get("reason", "")[:500], sessions.server_now())
        s.commit()
    except RuleError as e:
        s.rollback()
        lecture = _lecture(s, user, lecture_id, can_manage_class)
        return render_class(s, user, lecture.training_class, lecture_error=e.message, error_lecture_id=lecture.id)
    return _back(lecture)


@bp.post("/lectures/<int:lecture_id>/recording")
@page_auth("staff", "admin")
def recording_upload(lecture_id):
    """The recording, uploaded as a chapter's video is: measured and hashed by manage.store_video."""
    user, s = load_current_user(), db.session
    _lecture(s, user, lecture_id, can_manage_class)
    s.commit()  # reading a large upload must not hold SQLite's write lock
    upload = request.files.get("video")
    try:
        lecture = lectures.attach_recording(s, s.get(LiveLecture, lecture_id), user,
                                            upload.stream if upload and upload.filename else None,
                                            upload.filename if upload else "", sessions.server_now())
        try:
            s.commit()
        except BaseException:
            (manage.media_dir() / lecture.recording_file).unlink(missing_ok=True)
            raise
    except RuleError as e:
        s.rollback()
        lecture = _lecture(s, user, lecture_id, can_manage_class)
        return render_class(s, user, lecture.training_class, lecture_error=e.message, error_lecture_id=lecture.id)
    return _back(lecture)


@bp.get("/lectures/<int:lecture_id>/attendance")
@page_auth("staff", "regulator", "admin")
def attendance(lecture_id):
    user, s = load_current_user(), db.session
    lecture = _lecture(s, user, lecture_id)
    return render_template("lecture_attendance.html", lecture=lecture,
                           info=lectures.lecture_json(lecture, sessions.server_now()),
                           rows=lectures.attendance(s, lecture))


@bp.get("/media/lectures/<int:lecture_id>/recording")
def recording(lecture_id):
    """The recording with range requests, as chapter videos are; 404 to anyone who may not see the lecture."""
    user, s = load_current_user(), db.session
    if user is None:
        abort(401)
    lecture = s.get(LiveLecture, lecture_id)
    if lecture is None or not lectures.can_see_lecture(s, user, lecture):
        abort(404)
    path = lectures.recording_path(lecture)
    if path is None:
        abort(404)
    s.commit()  # no transaction held while the file streams
    return video_response(path)


def _trainee_lecture(s, user, lecture_id):
    lecture = s.get(LiveLecture, lecture_id)
    if lecture is None or not lectures.can_see_lecture(s, user, lecture):
        abort(404)  # not enrolled: the lecture does not exist for this trainee
    return lecture


@bp.get("/learn/lectures/<int:lecture_id>")
@page_auth("trainee")
def room(lecture_id):
    """The live room (直播间): plays the stream, joins over Socket.IO and reports presence (static/live.js)."""
    user, s = load_current_user(), db.session
    lecture = _trainee_lecture(s, user, lecture_id)
    now = sessions.server_now()
    config = {"lecture_id": lecture.id, "stream_url": lecture.stream_url, "kind": lectures.stream_kind(lecture.stream_url),
              "starts_in_seconds": round(lecture.starts_ts - now, 1),  # negative once begun: where the stream is
              "early_seconds": sessions.LIVE_EARLY_SECONDS, "reasons": REASON_LABELS,
              "enrol_url": url_for("proctoring.enrol_page", next=request.path)}
    # The stream may live on a live-streaming platform's host: this page alone may reach that origin.
    allow_origin(lecture.stream_url, *{"embed": ["frame-src"], "hls": ["connect-src", "media-src"],
                                       "video": ["media-src"]}.get(config["kind"], []))
    progress = s.get(LectureProgress, (user.id, lecture.id))
    info = lectures.lecture_json(lecture, now, progress.credited_seconds if progress else 0.0)
    from tracker.learning.routes import watermark_text  # the chapter player's watermark

    return render_template("lecture_room.html", lecture=lecture, info=info, config=config,
                           notices=qa.class_notices(s, lecture.class_id, limit=qa.NOTICES_SHOWN), watermark=watermark_text(user))


@bp.get("/learn/lectures/<int:lecture_id>/replay")
@page_auth("trainee")
def replay(lecture_id):
    """The recording after the lecture; watching it is not attendance and earns nothing."""
    user, s = load_current_user(), db.session
    lecture = _trainee_lecture(s, user, lecture_id)
    if not lecture.recording_file:
        abort(404)
    return render_template("lecture_replay.html", lecture=lecture, info=lectures.lecture_json(lecture, sessions.server_now()))
