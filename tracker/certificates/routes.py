"""Pages: issue from the class page, a certificate's page and downloads, revocation, the public verification page
and the learning record PDF."""
import os
import time

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from models import TrainingClass
from tracker.accounts.rules import mask_id_number
from tracker.certificates import numbers, pdf, services
from tracker.certificates.public import public_summary
from tracker.clock import beijing
from tracker.extensions import db
from tracker.limits import verify_limit
from tracker.learning.record import trainee_record
from tracker.security import can_view_trainee, evidence_scope, load_current_user, page_auth

bp = Blueprint("certificates", __name__)


def verify_url(number):
    """Where the QR code points: TRACKER_PUBLIC_URL when the platform sits behind a proxy, else this request's host."""
    base = current_app.config.get("TRACKER_PUBLIC_URL") or os.environ.get("TRACKER_PUBLIC_URL")
    path = url_for("certificates.verify_page", number=number)
    return base.rstrip("/") + path if base else url_for("certificates.verify_page", number=number, _external=True)


def _viewable(number):
    user, s = load_current_user(), db.session
    cert = services.by_number(s, number)
    if cert is None:
        abort(404)
    if not services.can_view(s, user, cert):
        abort(403)
    return cert


@bp.post("/classes/<int:class_id>/trainees/<int:trainee_id>/certificate")
@page_auth("staff", "admin")
def issue(class_id, trainee_id):
    user, s = load_current_user(), db.session
    cls, trainee = s.get(TrainingClass, class_id), services.trainee(s, trainee_id)
    if cls is None or trainee is None:
        abort(404)
    cert = services.issue(s, cls, trainee, user)
    s.commit()
    return redirect(url_for("certificates.certificate_page", number=cert.number))


@bp.get("/certificates/<number>")
@page_auth()
def certificate_page(number):
    cert = _viewable(number)
    user, s = load_current_user(), db.session
    result = services.check(s, cert)
    can_revoke = result["revocation"] is None and (
        user.role == "admin" or (user.role == "staff" and user.institution_id == cert.institution_id))
    return render_template("certificate.html", cert=cert, result=result, facts=result["facts"], can_revoke=can_revoke,
                           verify_url=verify_url(cert.number))


@bp.get("/certificates/<number>/json")
@page_auth()
def certificate_json(number):
    cert = _viewable(number)
    return Response(cert.document + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.number}.json"'})


@bp.get("/certificates/<number>/pdf")
@page_auth()
def certificate_pdf(number):
    cert = _viewable(number)
    rev = services.revocation(db.session, cert)
    revoked = {"at": rev.revoked_at.strftime("%Y-%m-%d"), "reason": rev.reason} if rev else None
    body = pdf.certificate_pdf(cert.document, verify_url(cert.number), revoked)
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{cert.number}.pdf"'})


@bp.post("/certificates/<number>/revoke")
@page_auth("staff", "admin")
def revoke(number):
    cert = _viewable(number)
    s = db.session
    services.revoke(s, cert, load_current_user(), request.form.get("reason", "")[:600])
    s.commit()
    return redirect(url_for("certificates.certificate_page", number=number))


@bp.get("/verify")
def verify_index():
    number = request.args.get("number", "").strip()[:40]
    if number:  # to the number's canonical spelling when it parses (typed in lower case, with spaces, ...)
        return redirect(url_for("certificates.verify_page", number=numbers.parse(number)[0] or number))
    return render_template("verify.html", number=None, cert=None, result=None)


@bp.get("/verify/<number>")
@verify_limit
def verify_page(number):
    """Public: the certificate's summary with the ID masked, valid or revoked, and what was checked."""
    s = db.session
    canonical, problem = numbers.parse(number)
    cert = services.by_number(s, canonical) if problem == numbers.OK else None
    result = services.check(s, cert) if cert else None
    summary = public_summary(result) if result else None
    status = 200 if cert else 400 if problem == numbers.MISTYPED else 404
    return render_template("verify.html", number=canonical or number[:40], cert=cert, result=result, summary=summary,
                           mistyped=problem == numbers.MISTYPED), status


@bp.get("/trainees/<int:trainee_id>/record.pdf")
@page_auth()
def record_pdf(trainee_id):
    user, s = load_current_user(), db.session
    trainee = services.trainee(s, trainee_id)
    if trainee is None or not can_view_trainee(s, user, trainee):
        abort(404)
    rec = trainee_record(s, trainee, evidence_scope(s, user, trainee))
    body = pdf.record_pdf(trainee, mask_id_number(trainee.id_number), rec,
                          beijing(time.time()))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="record-{trainee.id}.pdf"'})


# --- for the class page and the trainee's record page (templates call these) ------------------------------------


@bp.app_template_global()
def class_certificates(cls):
    return services.class_statuses(db.session, cls)


@bp.app_template_global()
def my_certificates(trainee_id):
    return services.trainee_certificates(db.session, trainee_id)
