"""Who is asking, and what they may see. Access rules are plain functions; decorators only apply them."""
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import false, select, true, update

from models import (
    ApiToken, Attempt, Certificate, Enrollment, LearningSession, LoginSession, QaPost, TrainingClass, User,
)
from tracker.accounts import credentials
from tracker.errors import ApiError
from tracker.extensions import csrf, db


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(s, user, ttl):
    token = secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, token_hash=token_digest(token), expires_at=datetime.now(timezone.utc) + timedelta(seconds=ttl)))
    return token


def live_token(s, token):
    """The usable token row a bearer token names, or None: unknown, revoked, expired, or its user deactivated."""
    if not isinstance(token, str) or not token:
        return None
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires < datetime.now(timezone.utc) or not row.user.is_active:
        return None
    return row


def user_for_token(s, token, touch=False):
    row = live_token(s, token)
    if row is not None and touch:
        _touch(s, ApiToken, row.id, "last_used_at", row.last_used_at)
    return row.user if row else None


def live_cookie_session(s):
    """(user, login session row) of the browser's signed cookie, or (None, None).

    The cookie names a server-side login session; it counts only while that row is live (not logged out, not
    ended by a password change, not idle too long) and the password has not changed since it was signed.
    """
    uid, sid = session.get("user_id"), session.get("sid")
    if not uid or not sid:
        return None, None
    row = credentials.live_session(s, sid, uid)
    if row is None:
        return None, None
    user = s.get(User, uid)
    if user is None or not user.is_active or session.get("auth_epoch") != auth_epoch(user):
        return None, None
    return user, row


def user_for_cookie(s, touch=False):
    user, row = live_cookie_session(s)
    if row is not None and touch:
        _touch(s, LoginSession, row.id, "last_seen_at", row.last_seen_at)
    return user


def _touch(s, model, row_id, column, last):
    """Note a use at most once a minute, in its own commit; only when this request has written nothing yet."""
    if credentials.touch_due(last) and not (s.new or s.dirty or s.deleted):
        s.execute(update(model).where(model.id == row_id).values({column: credentials.now_utc()}))
        s.commit()


def load_current_user():
    """Bearer token first (API clients), else the signed session cookie (browser), checked against its login session."""
    if "current_user" in g:
        return g.current_user
    s = db.session
    fresh = not s().in_transaction()  # nothing of this request is pending: noting the use may commit at once
    user, via, g.login_session_id, g.api_token_id = None, None, None, None
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        row = live_token(s, auth[7:].strip())
        if row is not None:
            user, via, g.api_token_id = row.user, "token", row.id
            if fresh:
                _touch(s, ApiToken, row.id, "last_used_at", row.last_used_at)
    elif session.get("user_id"):
        user, row = live_cookie_session(s)
        if row is not None:
            via, g.login_session_id = "cookie", row.id
            if fresh:
                _touch(s, LoginSession, row.id, "last_seen_at", row.last_seen_at)
    g.current_user, g.auth_via = user, via
    return user


def sign_in_browser(s, user):
    """Start a login session for this browser: a fresh cookie (no fixation) naming a new server-side row."""
    sid, row = credentials.start_session(s, user, request.remote_addr, request.headers.get("User-Agent"))
    session.clear()
    session["user_id"], session["sid"], session["auth_epoch"] = user.id, sid, auth_epoch(user)
    g.current_user, g.auth_via, g.login_session_id = user, "cookie", row.id
    return row


def sign_out_browser(s):
    """End the login session this browser's cookie names (whatever state it is in) and forget the cookie."""
    sid = session.get("sid")
    ended = 0
    if isinstance(sid, str) and sid:
        ended = s.execute(update(LoginSession).where(LoginSession.session_hash == credentials.sha256_hex(sid),
                                                     LoginSession.revoked_at.is_(None))
                          .values(revoked_at=credentials.now_utc())).rowcount
    session.clear()
    g.pop("current_user", None)
    return ended == 1


def auth_epoch(user):
    """Changes when the password hash changes, so that old cookies stop working."""
    key = current_app.secret_key.encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:16]


def api_auth(*roles):
    """API guard: 401 without credentials, 403 for other roles; cookie-authenticated writes need CSRF."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = load_current_user()
            if user is None:
                raise ApiError(401, "unauthorized", "请先登录或提供有效的访问令牌")
            if g.auth_via == "cookie" and request.method not in ("GET", "HEAD", "OPTIONS"):
                csrf.protect()
            if roles and user.role not in roles:
                raise ApiError(403, "forbidden", "当前角色无权执行此操作")
            return fn(*args, **kwargs)

        return wrapper

    return deco


def page_auth(*roles):
    """Page guard: to the login page without a session, 403 page for other roles."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = load_current_user()
            if user is None:
                return redirect(url_for("accounts.login", next=request.full_path))
            if roles and user.role not in roles:
                raise ApiError(403, "forbidden", "当前角色无权访问此页面")
            return fn(*args, **kwargs)

        return wrapper

    return deco


def region_covers(regulator_region, region_code):
    """A regulator's division covers its subdivisions: 150000 covers 150102, 150100 covers 150102.

    GB/T 2260 levels are fixed digit pairs (province 2, city 4, county 6): stripping every trailing zero
    would let 500000 (Chongqing) cover 51xxxx (Sichuan) and 120110 (Dongli) cover 120111 (Xiqing).
    """
    code = regulator_region or ""
    if len(code) != 6 or not code.isdigit() or code[:2] == "00":
        return False
    prefix = code[:2] if code[2:] == "0000" else code[:4] if code[4:] == "00" else code
    return (region_code or "").startswith(prefix)


def can_view_class(viewer, cls):
    if viewer.role == "admin":
        return True
    if viewer.role == "staff":
        return viewer.institution_id == cls.institution_id
    if viewer.role == "regulator":
        return region_covers(viewer.region_code, cls.institution.region_code)
    return False


def class_or_abort(s, viewer, class_id, check=None):
    """The class a page is about: 404 when there is none, 403 when `check` (default: may view it) says no."""
    cls = s.get(TrainingClass, class_id)
    if cls is None:
        abort(404)
    if not (check or can_view_class)(viewer, cls):
        abort(403)
    return cls


def can_manage_class(viewer, cls):
    return viewer.role == "admin" or (viewer.role == "staff" and viewer.institution_id == cls.institution_id)


def can_view_trainee(s, viewer, trainee):
    """Who may see that a trainee exists (name, masked ID): themself, admins, and staff and regulators who may
    view a class whose current roster has them. What they may see of the trainee's evidence is evidence_scope."""
    if viewer.id == trainee.id or viewer.role == "admin":
        return True
    if viewer.role not in ("staff", "regulator"):
        return False
    classes = s.scalars(select(TrainingClass).join(Enrollment, Enrollment.class_id == TrainingClass.id)
                        .where(Enrollment.trainee_id == trainee.id))
    return any(can_view_class(viewer, cls) for cls in classes)


EVERYTHING = None  # the scope of admins and of the trainee themself


def evidence_scope(s, viewer, trainee):
    """The classes whose evidence about `trainee` the viewer may read: EVERYTHING (None) for the trainee and
    admins, else the frozenset of classes (of the viewer's institution, or of institutions in the regulator's
    region) that the trainee is or was in or left evidence in. Evidence belongs to the class it was collected
    in: a trainee in classes of two institutions shows each only its part. Every reader of a trainee's
    evidence filters by this (in_scope), so that no route decides on its own."""
    if viewer.id == trainee.id or viewer.role == "admin":
        return EVERYTHING
    if viewer.role not in ("staff", "regulator"):
        return frozenset()
    touched = select(Enrollment.class_id).where(Enrollment.trainee_id == trainee.id).union(
        select(LearningSession.class_id).where(LearningSession.trainee_id == trainee.id),
        select(Attempt.class_id).where(Attempt.trainee_id == trainee.id),
        select(QaPost.class_id).where(QaPost.trainee_id == trainee.id),
        select(Certificate.class_id).where(Certificate.trainee_id == trainee.id))
    ids = set(s.scalars(touched))
    classes = s.scalars(select(TrainingClass).where(TrainingClass.id.in_(sorted(ids)))) if ids else []
    return frozenset(cls.id for cls in classes if can_view_class(viewer, cls))


def in_scope(column, scope):
    """A WHERE clause keeping rows whose class column is in the scope."""
    if scope is EVERYTHING:
        return true()
    return column.in_(sorted(scope)) if scope else false()


def scope_allows(scope, class_id):
    return scope is EVERYTHING or class_id in scope


