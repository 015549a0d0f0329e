"""Pages of the regulator's portal. Staff use search, traces, anomalies and exports within their institution and
read the regulator's reviews of their trainees; sampling and reviewing (核查处置) are the regulator's alone.
Routes only translate; the rules live in the feature's modules."""
import io
import json

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from models import SamplingDraw, TrainingClass, User
from tracker.accounts.rules import RuleError
from tracker.extensions import db
from tracker.learning.sessions import server_now
from tracker.regulator import evidence, exports, reviews, sampling, search, trace
from tracker.regulator.anomalies import LEVEL_LABELS
from tracker.security import can_view_class, can_view_trainee, load_current_user, page_auth
from tracker.spreadsheets import XLSX_TYPE

bp = Blueprint("regulator", __name__, url_prefix="/regulator")
READERS = ("staff", "regulator", "admin")
DEFAULT_DAYS = 90


def trainee_or_404(s, viewer, trainee_id):
    """A trainee the viewer may inspect; 404 otherwise (whether the account exists is not disclosed)."""
    trainee = s.get(User, trainee_id)
    if trainee is None or trainee.role != "trainee" or not can_view_trainee(s, viewer, trainee):
        abort(404)
    return trainee


def class_or_404(s, viewer, class_id):
    cls = s.get(TrainingClass, class_id)
    if cls is None or not can_view_class(viewer, cls):
        abort(404)
    return cls


def days_param(raw):
    try:
        days = int(raw) if raw not in (None, "") else DEFAULT_DAYS
    except ValueError:
        raise RuleError("invalid_field", "天数须为整数", "days") from None
    if not 1 <= days <= 3660:
        raise RuleError("invalid_field", "天数须在 1 到 3660 之间", "days")
    return days


def anomaly_report(s, viewer, days):
    risks, facts = evidence.assess(s, viewer, since_ts=server_now() - days * 86400)
    institutions = search.visible_institution_ids(s, viewer)
    trainees = evidence.readable(s, risks, facts["scope"], institutions)
    latest = reviews.latest_status(s, viewer, [r["trainee_id"] for r in trainees])
    for r in trainees:
        r["review"] = latest.get(r["trainee_id"])  # the latest review (核查处置), None when never reviewed
    return {"days": days, "trainees": trainees, "classes": evidence.class_risks(s, viewer, risks),
            "weights": evidence.weights_table()}


def _download(data, name, mimetype):
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=mimetype, max_age=0)


@bp.get("")
@page_auth(*READERS)
def search_page():
    viewer, s = load_current_user(), db.session
    q = request.args.get("q", "")
    results, error = None, None
    if q.strip():
        try:
            results = search.search_trainees(s, viewer, q)
        except RuleError as e:
            error = e.message
    return render_template("regulator_search.html", q=q, results=results, error=error, limit=search.LIMIT)


@bp.get("/trainees/<int:trainee_id>")
@page_auth(*READERS)
def trace_page(trainee_id):
    viewer, s = load_current_user(), db.session
    trainee = trainee_or_404(s, viewer, trainee_id)
    data = trace.trainee_trace(s, viewer, trainee)
    charts = {"daily": data["daily"], "hours": data["hours"]}
    return render_template("regulator_trace.html", t=data, charts=charts, level_labels=LEVEL_LABELS)


@bp.get("/trainees/<int:trainee_id>/trace.xlsx")
@page_auth(*READERS)
def trace_xlsx(trainee_id):
    viewer, s = load_current_user(), db.session
    data = trace.trainee_trace(s, viewer, trainee_or_404(s, viewer, trainee_id))
    s.commit()
    return _download(exports.trace_xlsx(data), f"学习轨迹-{trainee_id}.xlsx", XLSX_TYPE)


@bp.get("/trainees/<int:trainee_id>/trace.pdf")
@page_auth(*READERS)
def trace_pdf(trainee_id):
    viewer, s = load_current_user(), db.session
    data = trace.trainee_trace(s, viewer, trainee_or_404(s, viewer, trainee_id))
    s.commit()
    return _download(exports.trace_pdf(data), f"学习轨迹-{trainee_id}.pdf", "application/pdf")


@bp.get("/classes/<int:class_id>/archive.xlsx")
@page_auth(*READERS)
def archive_xlsx(class_id):
    viewer, s = load_current_user(), db.session
    archive = exports.class_archive(s, class_or_404(s, viewer, class_id))
    s.commit()
    return _download(exports.archive_xlsx(archive), f"培训档案-{class_id}.xlsx", XLSX_TYPE)


@bp.get("/classes/<int:class_id>/archive.pdf")
@page_auth(*READERS)
def archive_pdf(class_id):
    viewer, s = load_current_user(), db.session
    archive = exports.class_archive(s, class_or_404(s, viewer, class_id))
    s.commit()
    return _download(exports.archive_pdf(archive), f"培训档案-{class_id}.pdf", "application/pdf")


@bp.get("/anomalies")
@page_auth(*READERS)
def anomalies_page():
    viewer, s = load_current_user(), db.session
    report = anomaly_report(s, viewer, days_param(request.args.get("days")))
    return render_template("regulator_anomalies.html", report=report, can_review=viewer.role == "regulator",
                           conclusions=reviews.CONCLUSIONS)


def local_path(target):
    """A plain local path to come back to (the anomalies list), or "" (never another site)."""
    target = (target or "")[:300]
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and not any(ord(c) < 32 or ord(c) == 127 for c in target)
    return target if ok else ""


@bp.route("/trainees/<int:trainee_id>/review", methods=["GET", "POST"])
@page_auth("regulator")
def review_page(trainee_id):
    """核查处置: the trainee's findings as they stand, the form, and the earlier reviews. Only the region's regulator."""
    viewer, s = load_current_user(), db.session
    trainee = trainee_or_404(s, viewer, trainee_id)
    form = request.form if request.method == "POST" else request.args
    error, status = None, 200
    try:
        days = reviews.parse_days(form.get("days"))
    except RuleError as e:
        days, error, status = None, e.message, e.status
    back = local_path(form.get("next"))
    if request.method == "POST" and error is None:
        try:
            reviews.record_review(s, viewer, trainee, form.get("conclusion"), form.get("note"), days)
            s.commit()
            return redirect(back or url_for("regulator.trace_page", trainee_id=trainee_id) + "#reviews")
        except RuleError as e:
            s.rollback()
            error, status = e.message, e.status
    since = server_now() - days * 86400 if days else None
    risks, facts = evidence.assess(s, viewer, focus={trainee.id}, since_ts=since)
    described = evidence.readable(s, risks, facts["scope"], search.visible_institution_ids(s, viewer))
    risk = described[0] if described else {"trainee_id": trainee.id, "score": 0, "level": "none",
                                           "level_label": LEVEL_LABELS["none"], "signs": []}
    return render_template("regulator_review.html", trainee=search.person_json(trainee), risk=risk, days=days,
                           history=reviews.history_json(s, viewer, trainee.id), conclusions=reviews.CONCLUSIONS,
                           note_max=reviews.NOTE_MAX, error=error, back=back,
                           form={"conclusion": form.get("conclusion", ""), "note": form.get("note", "")}), status


@bp.route("/samples", methods=["GET", "POST"])
@page_auth("regulator", "admin")
def samples_page():
    viewer, s = load_current_user(), db.session
    error, status = None, 200
    if request.method == "POST":
        try:
            n = int(request.form.get("n", "") or 0)
        except ValueError:
            n = 0
        try:
            row = sampling.make_draw(s, viewer, request.form.get("kind", ""), n, request.form.get("region_code") or None)
            s.commit()  # the seed is in the ledger before anyone sees the draw
            return redirect(url_for("regulator.sample_page", draw_id=row.id))
        except RuleError as e:
            s.rollback()
            error, status = e.message, e.status
    draws = [sampling.draw_json(r) for r in sampling.visible_draws(s, viewer)]
    return render_template("regulator_samples.html", draws=draws, error=error, kinds=sampling.KINDS,
                           max_n=sampling.MAX_N, region=viewer.region_code or ""), status


def _draw_or_404(s, viewer, draw_id):
    row = s.get(SamplingDraw, draw_id)
    if row is None or not sampling.can_view_draw(viewer, row):
        abort(404)
    return row


def selected_items(s, row):
    """The drawn trainees (masked) or classes, in draw order, for the page."""
    ids = json.loads(row.selected)
    if row.kind == "classes":
        found = {c.id: c for c in s.scalars(select(TrainingClass).where(TrainingClass.id.in_(ids)))}
        return [{"id": i, "name": found[i].name if i in found else f"班期{i}",
                 "detail": found[i].institution.name if i in found else ""} for i in ids]
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids)))}
    return [{"id": i, **search.person_json(users[i])} if i in users else {"id": i, "name": f"学员{i}"} for i in ids]


@bp.get("/samples/<int:draw_id>")
@page_auth("regulator", "admin")
def sample_page(draw_id):
    viewer, s = load_current_user(), db.session
    row = _draw_or_404(s, viewer, draw_id)
    check = sampling.verify_draw(s, row) if request.args.get("verify") else None
    return render_template("regulator_sample.html", draw=sampling.draw_json(row), items=selected_items(s, row),
                           check=check, kinds=sampling.KINDS)


@bp.get("/samples/<int:draw_id>/population.json")
@page_auth("regulator", "admin")
def sample_population(draw_id):
    viewer, s = load_current_user(), db.session
    row = _draw_or_404(s, viewer, draw_id)
    body = json.dumps(sampling.draw_json(row, with_population=True), ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="draw-{row.id}.json"'})
