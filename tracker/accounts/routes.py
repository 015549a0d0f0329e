"""Pages: register, log in, log out, my account, and the administrator's user list."""
from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from models import User
from tracker.accounts import credentials, locks, services
from tracker.accounts.rules import CATEGORIES, FACE_CONSENT_TEXT, RuleError, mask_id_number, mask_phone
from tracker.extensions import db
from tracker.limits import register_limit
from tracker.security import load_current_user, page_auth, sign_in_browser, sign_out_browser

bp = Blueprint("accounts", __name__)


def _safe_next(target):
    # Browsers read "/\\host" as "//host" and drop tabs and newlines: only a plain local path may pass.
    local = target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and not any(ord(c) < 32 or ord(c) == 127 for c in target)
    return target if local else url_for("views.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        notice = "密码已重置，原有的登录和访问令牌均已失效，请用新密码登录" if request.args.get("reset") else None
        return render_template("login.html", next=request.args.get("next", ""), notice=notice)
    s = db.session
    try:
        user = services.authenticate(s, request.form.get("username"), request.form.get("password"),
                                     request.remote_addr, "web")
    except RuleError as e:
        s.rollback()
        return render_template("login.html", error=e.message, username=request.form.get("username", "")[:64],
                               next=request.form.get("next", "")), e.status
    sign_in_browser(s, user)
    s.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    """Ends the login session on the server too: a copy of the cookie is worthless afterwards."""
    s = db.session
    sign_out_browser(s)
    s.commit()
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
    sign_in_browser(s, user)
    s.commit()
    return redirect(url_for("views.home"))


def _account_page(user, status=200, **extra):
    s = db.session
    return render_template("account.html", user=user, id_mask=mask_id_number(user.id_number),
                           phone_mask=mask_phone(user.phone), consent_text=FACE_CONSENT_TEXT,
                           sessions=credentials.user_sessions(s, user.id), tokens=credentials.user_tokens(s, user.id),
                           current_session_id=g.get("login_session_id"), notice=request.args.get("done"),
                           **extra), status


@bp.get("/account")
@page_auth()
def account():
    return _account_page(load_current_user())


@bp.post("/account/password")
@page_auth()
def change_password():
    """Every role; other sessions end, tokens are revoked, and this browser continues on a new session."""
    user, s = load_current_user(), db.session
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password2", ""):
        return _account_page(user, 400, password_error="两次输入的新密码不一致")
    user_id, current = user.id, g.login_session_id
    try:
        credentials.change_password(s, user, request.form.get("current_password", ""), new, via="web",
                                    address=request.remote_addr, keep_session_id=current)
    except RuleError as e:
        s.rollback()
        return _account_page(s.get(User, user_id), e.status, password_error=e.message)
    user = s.get(User, user_id)
    credentials.revoke_session(s, user_id, current)  # rotated: the old cookie's id stops working too
    sign_in_browser(s, user)
    s.commit()
    return redirect(url_for("accounts.account", done="password"))


@bp.post("/account/sessions/<int:session_id>/revoke")
@page_auth()
def revoke_session(session_id):
    user, s = load_current_user(), db.session
    if not credentials.revoke_session(s, user.id, session_id):
        abort(404)
    s.commit()
    if session_id == g.login_session_id:  # ending this very browser's session is a logout
        sign_out_browser(s)
        s.commit()
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.account", done="session"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@page_auth()
def revoke_token(token_id):
    user, s = load_current_user(), db.session
    if not credentials.revoke_token(s, user.id, token_id):
        abort(404)
    s.commit()
    return redirect(url_for("accounts.account", done="token"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """Public (忘记密码): a trainee sets a new password with the one-time code their institution's staff gave them."""
    if request.method == "GET":
        return render_template("forgot_password.html", username="")
    username = request.form.get("username", "")[:64]
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password2", ""):
        return render_template("forgot_password.html", username=username, error="两次输入的新密码不一致"), 400
    s = db.session
    try:
        credentials.use_reset_code(s, username, request.form.get("code", "")[:32], new, request.remote_addr)
    except RuleError as e:
        s.rollback()
        return render_template("forgot_password.html", username=username, error=e.message), e.status
    sign_out_browser(s)  # whoever was signed in on this browser, the trainee now signs in afresh
    s.commit()
    return redirect(url_for("accounts.login", reset=1))


@bp.route("/trainees/<int:trainee_id>/password-reset", methods=["GET", "POST"])
@page_auth("staff", "admin")
def issue_password_reset(trainee_id):
    """Staff of an institution that has the trainee on a roster, or an admin: a one-time code, shown once."""
    actor, s = load_current_user(), db.session
    trainee = s.get(User, trainee_id)
    if not credentials.can_reset_password(s, actor, trainee):
        abort(404)  # neither whether the account exists nor whose it is
    view = {"trainee": trainee, "id_mask": mask_id_number(trainee.id_number), "phone_mask": mask_phone(trainee.phone),
            "ttl_minutes": current_app.config["TRACKER_RESET_CODE_TTL"] // 60,
            "tries": current_app.config["TRACKER_RESET_CODE_TRIES"], "back": _safe_next(request.values.get("back"))}
    if request.method == "GET":
        return render_template("password_reset_issue.html", **view)
    code, row = credentials.issue_reset_code(s, actor, trainee)
    s.commit()
    response = make_response(render_template("password_reset_issue.html", code=code, expires_at=row.expires_at, **view))
    response.headers["Cache-Control"] = "no-store"  # the code must not stay in a cache or the back button
    return response


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
