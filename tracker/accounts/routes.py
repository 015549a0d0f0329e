"""Pages: register, log in, log out, my account, and the administrator's user list."""
from flask import Blueprint, redirect, render_template, request, session, url_for
from sqlalchemy import select

from models import User
from tracker.accounts import locks, services
from tracker.accounts.rules import CATEGORIES, FACE_CONSENT_TEXT, RuleError, mask_id_number, mask_phone
from tracker.extensions import db
from tracker.limits import register_limit
from tracker.security import auth_epoch, load_current_user, page_auth

bp = Blueprint("accounts", __name__)


def _safe_next(target):
    # Browsers read "/\\host" as "//host" and drop tabs and newlines: only a plain local path may pass.
    local = target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and not any(ord(c) < 32 or ord(c) == 127 for c in target)
    return target if local else url_for("views.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    s = db.session
    try:
        user = services.authenticate(s, request.form.get("username"), request.form.get("password"),
                                     request.remote_addr, "web")
    except RuleError as e:
        s.rollback()
        return render_template("login.html", error=e.message, username=request.form.get("username", "")[:64],
                               next=request.form.get("next", "")), e.status
    s.commit()
    session.clear()
    session["user_id"], session["auth_epoch"] = user.id, auth_epoch(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.route("/register", methods=["GET", "POST"])
@register_limit
def register():
    ctx = {"categories": CATEGORIES, "consent_text": FACE_CONSENT_TEXT}
    if request.method == "GET":
        return render_template("register.html", form={}, **ctx)
    form = {k: request.form.get(k, "")[:200] for k in ("name", "id_number", "phone", "category", "employer")}
    data = dict(form, password=request.form.get("password", ""), face_consent=request.form.get("face_consent"))
    if data["password"] != request.form.get("password2", ""):
        return render_template("register.html", form=form, error="两次输入的密码不一致", **ctx), 400
    s = db.session
    try:
        user = services.register_trainee(s, data, address=request.remote_addr)
    except RuleError as e:
        s.rollback()
        return render_template("register.html", form=form, error=e.message, field=e.field, **ctx), 400
    s.commit()
    session.clear()
    session["user_id"], session["auth_epoch"] = user.id, auth_epoch(user)
    return redirect(url_for("views.home"))


@bp.get("/account")
@page_auth()
def account():
    user = load_current_user()
    return render_template("account.html", user=user, id_mask=mask_id_number(user.id_number),
                           phone_mask=mask_phone(user.phone), consent_text=FACE_CONSENT_TEXT)


@bp.get("/admin/users")
@page_auth("admin")
def admin_users():
    users = db.session.scalars(select(User).order_by(User.id)).all()
    standing = {lock.user_id: lock for lock in locks.active_locks(db.session)}
    rows = [{"id": u.id, "name": u.name, "role": u.role, "id_mask": mask_id_number(u.id_number),
             "phone_mask": mask_phone(u.phone), "institution": u.institution.name if u.institution else "",
             "region_code": u.region_code or "", "lock": standing.get(u.id)} for u in users]
    return render_template("admin_users.html", rows=rows, locked=[r for r in rows if r["lock"]])


@bp.post("/admin/users/<int:user_id>/unlock")
@page_auth("admin")
def admin_unlock(user_id):
    """Lift an account-wide login lock (recorded in the ledger)."""
    s = db.session
    locks.lift(s, user_id, load_current_user())
    s.commit()
    return redirect(url_for("accounts.admin_users"))
