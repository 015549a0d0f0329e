"""Who is asking, and what they may see. Access rules are plain functions; decorators only apply them."""
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import false, select, true

from models import ApiToken, Attempt, Certificate, Enrollment, LearningSession, QaPost, TrainingClass, User
from tracker.errors import ApiError
from tracker.extensions import csrf, db


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(s, user, ttl):
    token = secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, token_hash=token_digest(token), expires_at=datetime.now(timezone.utc) + timedelta(seconds=ttl)))
    return token


def user_for_token(s, token):
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires < datetime.now(timezone.utc) or not row.user.is_active:
        return None
    return row.user


def load_current_user():
    """Bearer token first (API clients), else the signed session cookie (browser)."""
    if "current_user" in g:
        return g.current_user
    user, via = None, None
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        user, via = user_for_token(db.session, auth[7:].strip()), "token"
    elif session.get("user_id"):
        user = db.session.get(User, session["user_id"])
        if user is not None and (not user.is_active or session.get("auth_epoch") != auth_epoch(user)):
            user = None
        via = "cookie" if user else None
    g.current_user, g.auth_via = user, via
    return user


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


