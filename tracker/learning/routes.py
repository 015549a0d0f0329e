"""Pages: the trainee's courses, staff's classes and rosters, the regulator's view of its region."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select

from models import Enrollment, Institution, TrainingClass
from tracker.accounts.rules import RuleError, mask_id_number, mask_phone
from tracker.assessment import qa
from tracker.extensions import db
from tracker.learning import events, lectures, record, services, sessions
from tracker.learning.crediting import REASON_LABELS
from tracker.learning.policy import CLASS_HOUR_SECONDS, class_hours, policy_for
from tracker.security import can_manage_class, class_or_abort, load_current_user, page_auth, region_covers

bp = Blueprint("learning", __name__)


@bp.get("/learn")
@page_auth("trainee")
def my_courses():
    user, s, now = load_current_user(), db.session, sessions.server_now()
    return render_template("my_courses.html", user=user, classes=services.trainee_classes(s, user),
                           lectures=lectures.trainee_lectures(s, user, now),
                           day_remaining=services.day_remaining_seconds(s, user, now),
                           refused=request.args.get("refused", type=int))


@bp.post("/learn/classes/<int:class_id>/refuse")
@page_auth("trainee")
def refuse_class(class_id):
    user, s = load_current_user(), db.session
    try:
        services.refuse_roster(s, user, class_id)
    except RuleError as e:
        s.rollback()
        abort(e.status)
    events.commit(s)
    return redirect(url_for("learning.my_courses", refused=class_id))


def _class_rows(s, classes):
    counts = dict(s.execute(select(Enrollment.class_id, func.count()).group_by(Enrollment.class_id)).all())
    return [{"cls": c, "trainees": counts.get(c.id, 0), "policy": policy_for(c.policy_profile)} for c in classes]


@bp.get("/staff/classes")
@page_auth("staff")
def staff_classes():
    user, s = load_current_user(), db.session
    classes = s.scalars(select(TrainingClass).where(TrainingClass.institution_id == user.institution_id)
                        .order_by(TrainingClass.id)).all()
    return render_template("classes.html", title="本机构班期", rows=_class_rows(s, classes))


@bp.get("/regulator/classes")
@page_auth("regulator")
def region_classes():
    user, s = load_current_user(), db.session
    classes = [c for c in s.scalars(select(TrainingClass).join(Institution).order_by(TrainingClass.id))
               if region_covers(user.region_code, c.institution.region_code)]
    return render_template("classes.html", title=f"辖区班期（{user.region_code}）", rows=_class_rows(s, classes))


@bp.route("/classes/<int:class_id>", methods=["GET", "POST"])
@page_auth("staff", "regulator", "admin")
def class_detail(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id)
    error = None
    if request.method == "POST":
        if not can_manage_class(user, cls):
            abort(403)
        try:
            services.add_to_roster(s, cls, request.form.get("id_number", "")[:30], user)
            s.commit()
            return redirect(url_for("learning.class_detail", class_id=cls.id))
        except RuleError as e:
            s.rollback()
            error = e.message
    return render_class(s, user, cls, error=error)


def render_class(s, user, cls, error=None, **lecture_view):
    """The class page; the live-lecture forms (lecture_routes) re-show it with their errors and values."""
    from tracker.learning.lecture_routes import class_lectures_view  # the lecture pages build on this one

    roster = [{"id": t.id, "name": t.name, "id_mask": mask_id_number(t.id_number), "phone_mask": mask_phone(t.phone),
               "category": t.category} for t in services.class_roster(s, cls)]
    failed = error or lecture_view.get("lecture_error")
    chapters, lectures = services.class_content(s, cls)
    # What the exam and certificate require is this content's length; the plan's online hours are shown
    # beside it so that staff and inspectors see a class whose content falls short of its plan.
    content = {"video": sum(sec for _k, sec in chapters), "live": sum(sec for _k, sec in lectures),
               "plan": cls.online_hours * CLASS_HOUR_SECONDS}
    return render_template("class_detail.html", cls=cls, roster=roster, policy=policy_for(cls.policy_profile),
                           can_manage=can_manage_class(user, cls), error=error, content=content, class_hours=class_hours,
                           **class_lectures_view(s, cls, **lecture_view)), (400 if failed else 200)


@bp.get("/learn/chapters/<int:chapter_id>")
@page_auth("trainee")
def player(chapter_id):
    user, s = load_current_user(), db.session
    chapter, class_id = services.chapter_in_trainee_classes(s, user, chapter_id)
    if chapter is None:
        abort(404)
    siblings = chapter.course.chapters
    i = next(n for n, ch in enumerate(siblings) if ch.id == chapter.id)
    return render_template(
        "player.html", chapter=chapter, class_id=class_id,
        prev=siblings[i - 1] if i > 0 else None, next=siblings[i + 1] if i + 1 < len(siblings) else None,
        interval=current_app.config["TRACKER_HEARTBEAT_INTERVAL"], reason_labels=REASON_LABELS,
        notices=qa.class_notices(s, class_id, limit=qa.NOTICES_SHOWN), watermark=watermark_text(user),
    )


def watermark_text(user):
    """What the identity watermark over a playing video shows: the name and the masked ID number."""
    return f"{user.name} {mask_id_number(user.id_number)}"


@bp.get("/learn/record")
@page_auth("trainee")
def my_record():
    user = load_current_user()
    return render_template("record.html", rec=record.trainee_record(db.session, user), reason_labels=REASON_LABELS)


@bp.get("/classes/<int:class_id>/monitor")
@page_auth("staff", "regulator", "admin")
def monitor(class_id):
    user, s = load_current_user(), db.session
    cls = class_or_abort(s, user, class_id)
    roster = {t.id: t.name for t in services.class_roster(s, cls)}
    chapters = {ch.id: ch.title for course in cls.courses for ch in course.chapters}
    live = {x.id: x.title for x in lectures.class_lectures(s, cls)}
    return render_template("monitor.html", cls=cls, roster=roster, chapters=chapters, lectures=live,
                           interval=current_app.config["TRACKER_HEARTBEAT_INTERVAL"])
