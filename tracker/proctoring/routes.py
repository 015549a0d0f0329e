"""Pages of proctoring: enrolling a face, the decrypting photo route, the flags list and the face-change reviews
for staff and regulators."""
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from tracker.accounts.rules import FACE_CONSENT_TEXT
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.proctoring import services
from tracker.proctoring.workers import pool_for
from tracker.security import load_current_user, page_auth

bp = Blueprint("proctoring", __name__)


def _local(target):
    """A plain local path to come back to (the player), or "" (never another site)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and not any(ord(c) < 32 or ord(c) == 127 for c in target)
    return target if ok else ""


@bp.get("/faces/enrol")
@page_auth("trainee")
def enrol_page():
    s, user = db.session, load_current_user()
    pool_for(current_app.config).warm()  # a photo is probably coming
    return render_template("face_enrol.html", status=services.face_status(s, user), consent_text=FACE_CONSENT_TEXT,
                           next=_local(request.args.get("next", "")[:200]))


@bp.post("/faces/consent")
@page_auth("trainee")
def give_consent():
    s, user = db.session, load_current_user()
    if request.form.get("face_consent") not in ("1", "on", "true"):
        return render_template("face_enrol.html", status=services.face_status(s, user), consent_text=FACE_CONSENT_TEXT,
                               error="请勾选同意人脸信息处理后再继续", next=_local(request.form.get("next", "")[:200])), 400
    services.give_consent(s, user, request.remote_addr)
    s.commit()
    back = _local(request.form.get("next", "")[:200])
    return redirect(url_for("proctoring.enrol_page", next=back) if back else url_for("proctoring.enrol_page"))


@bp.get("/faces/photos/<int:photo_id>")
def photo(photo_id):
    """A stored photo, decrypted, for whoever may see its trainee (bearer token or session cookie)."""
    viewer = load_current_user()
    if viewer is None:
        abort(401)
    try:
        data, mimetype = services.photo_for_viewer(db.session, viewer, photo_id)
    except ApiError:
        abort(404)
    db.session.commit()  # the view's ledger entry
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, no-store",
                                                      "X-Content-Type-Options": "nosniff"})


@bp.route("/faces/flags", methods=["GET", "POST"])
@page_auth("staff", "regulator", "admin")
def flags():
    s, viewer = db.session, load_current_user()
    if request.method == "POST":  # staff: whether the institution accepts uploaded photos for enrolment
        if viewer.role != "staff":
            abort(403)
        services.set_upload_policy(s, viewer.institution_id, request.form.get("allow_upload") == "1", viewer.id)
        s.commit()
        return redirect(url_for("proctoring.flags"))
    policy = None
    if viewer.role == "staff":
        from models import ProctoringPolicy

        row = s.get(ProctoringPolicy, viewer.institution_id)
        policy = {"allow_upload": row.allow_upload if row else True}
    rows = [services.flag_json(s, viewer, f) for f in services.visible_flags(s, viewer)]
    return render_template("face_flags.html", flags=rows, policy=policy)


@bp.get("/faces/reviews")
@page_auth("staff", "regulator", "admin")
def reviews():
    """Face changes beside the face they would replace: staff of the trainee's institution (or an admin) decide."""
    s, viewer = db.session, load_current_user()
    rows = [services.change_json(s, viewer, e) for e in services.visible_changes(s, viewer)]
    return render_template("face_reviews.html", changes=rows, error=request.args.get("error", "")[:100])


@bp.post("/faces/reviews/<int:enrolment_id>")
@page_auth("staff", "regulator", "admin")
def review_decide(enrolment_id):
    s, viewer = db.session, load_current_user()
    decision = request.form.get("decision")
    if decision not in ("approve", "refuse"):
        abort(400)
    try:
        services.review_change(s, viewer, enrolment_id, decision == "approve", request.form.get("note"))
    except ApiError as e:
        s.rollback()
        if e.status in (403, 404):
            abort(e.status)
        return render_template("face_reviews.html", error=e.message, changes=[
            services.change_json(s, viewer, x) for x in services.visible_changes(s, viewer)]), e.status
    s.commit()
    return redirect(url_for("proctoring.reviews"))
