"""Login sessions, API tokens and passwords: listing and ending them, changing and resetting passwords.

Plain functions on a database session; the routes and the API only translate. Nothing here stores a secret in
the clear: session ids and tokens are kept as SHA-256, reset codes as a keyed digest, and ledger entries name
who did what to whom, never a password, token or code.
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, exists, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from models import ApiToken, Enrollment, LoginAttempt, LoginSession, PasswordResetCode, TrainingClass, User
from tracker import ledger
from tracker.accounts import locks, services
from tracker.accounts.rules import RuleError, validate_password

TOUCH_EVERY = timedelta(seconds=60)  # last seen / last used are written at most this often: reads stay reads
RESET_CODE_DIGITS = 8  # read over the phone or handed over on paper; tries are few, so 10^8 is plenty


def sha256_hex(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def now_utc():
    return datetime.now(timezone.utc)


def aware(moment):
    """SQLite gives naive datetimes back; they were stored as UTC."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_BROWSERS = (("MicroMessenger", "微信"), ("EdgA", "Edge"), ("Edg/", "Edge"), ("Firefox", "Firefox"), ("Chrome", "Chrome"),
             ("Chromium", "Chromium"), ("Safari", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"), ("Mac OS X", "macOS"),
            ("Linux", "Linux"))


def user_agent_short(raw):
    """Enough of the User-Agent to tell one's devices apart on the account page: 'Chrome · Android'."""
    text = "".join(c for c in (raw or "") if c.isprintable())
    browser = next((name for key, name in _BROWSERS if key in text), None)
    system = next((name for key, name in _SYSTEMS if key in text), None)
    if browser or system:
        return " · ".join(x for x in (browser, system) if x)
    return text[:120] or None


# --- browser login sessions --------------------------------------------------------------------------------


def start_session(s, user, address=None, user_agent=None):
    """A new login session; returns (the random id for the cookie, its row). Only the id's SHA-256 is stored."""
    sid = secrets.token_urlsafe(32)
    row = LoginSession(user_id=user.id, session_hash=sha256_hex(sid), address=(address or "")[:64] or None,
                       user_agent=user_agent_short(user_agent), created_at=now_utc(), last_seen_at=now_utc())
    s.add(row)
    s.flush()
    return sid, row


def _idle_limit():
    return timedelta(seconds=current_app.config["TRACKER_SESSION_IDLE"])


def live_session(s, sid, user_id):
    """The live session row a cookie names, or None: unknown, another user's, revoked, or idle too long."""
    if not isinstance(sid, str) or not sid or len(sid) > 100:
        return None
    row = s.scalar(select(LoginSession).where(LoginSession.session_hash == sha256_hex(sid)))
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return None
    if aware(row.last_seen_at) < now_utc() - _idle_limit():
        return None
    return row


def touch_due(last):
    return last is None or aware(last) < now_utc() - TOUCH_EVERY


def user_sessions(s, user_id):
    """The user's live browser sessions, the most recently used first."""
    since = now_utc() - _idle_limit()
    return s.scalars(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None),
                                                LoginSession.last_seen_at >= since)
                     .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())).all()


def revoke_session(s, user_id, session_id):
    """End one of the user's own sessions; False when there is no such live session of theirs (a 404)."""
    result = s.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user_id,
                                                  LoginSession.revoked_at.is_(None)).values(revoked_at=now_utc()))
    return result.rowcount == 1


def revoke_user_sessions(s, user_id, keep_id=None):
    """End every live session of the user (but `keep_id`); returns how many were ended."""
    q = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep_id is not None:
        q = q.where(LoginSession.id != keep_id)
    return s.execute(q.values(revoked_at=now_utc())).rowcount


# --- API tokens ------------------------------------------------------------------------------------------------


def user_tokens(s, user_id):
    """The user's usable tokens (not revoked, not expired), newest first."""
    return s.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False),
                                            ApiToken.expires_at > now_utc())
                     .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()


def token_json(row, current_id=None):
    """What a token's owner may see of it: never the token nor its hash."""
    iso = lambda t: aware(t).isoformat() if t else None  # noqa: E731
    return {"token_id": row.id, "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at), "current": row.id == current_id}


def revoke_token(s, user_id, token_id):
    """Revoke one of the user's own tokens; False when the user has no such usable token (a 404)."""
    result = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id,
                                              ApiToken.revoked.is_(False))
                       .values(revoked=True, revoked_at=now_utc()))
    return result.rowcount == 1


def revoke_user_tokens(s, user_id):
    return s.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False))
                     .values(revoked=True, revoked_at=now_utc())).rowcount


def end_everything(s, user_id, keep_session_id=None):
    """After a password change or reset: every other session ended, every token revoked."""
    return {"sessions_ended": revoke_user_sessions(s, user_id, keep_session_id), "tokens_revoked": revoke_user_tokens(s, user_id)}


# --- changing one's password -------------------------------------------------------------------------------------


def _check_current_password(s, user, password, address):
    """The current password, throttled like a login (a stolen session must not become a password oracle): the
    same keys and limits as authenticate(), so both paths share one budget and neither locks the owner out."""
    key, address = f"#{user.id}", (address or "unknown")[:64]
    locks.check(s, key, address, user.id)
    stored = user.password_hash
    s.rollback()  # end the transaction before the slow hash: SQLite's write lock must not wait on scrypt
    if not isinstance(password, str) or not password or not check_password_hash(stored, password[:128]):
        locks.record_failure(s, key, address, user.id)
        s.commit()
        raise RuleError("wrong_password", "当前密码不正确", "current_password")


def change_password(s, user, current_password, new_password, *, via, address=None, keep_session_id=None):
    """Any role changes their own password: every other session ends and every token is revoked.

    `keep_session_id` is the browser session making the change; the caller rotates it (a new id in a new cookie).
    """
    validate_password(new_password)
    if current_password == new_password:
        raise RuleError("same_password", "新密码不能与当前密码相同", "new_password")
    user_id = user.id
    _check_current_password(s, user, current_password, address)
    new_hash = generate_password_hash(new_password, method=services.PASSWORD_METHOD)  # before the write lock
    user = s.get(User, user_id)
    user.password_hash = new_hash
    ended = end_everything(s, user_id, keep_session_id)
    ledger.append(s, "account.password_changed", {"user_id": user_id, "via": via, "address": address, **ended},
                  actor_id=user_id, subject_id=user_id)
    return ended


# --- resetting a trainee's password with a one-time code ------------------------------------------------------------


def can_reset_password(s, actor, trainee):
    """An admin, or staff of an institution that has the trainee on a class roster; only trainees' passwords."""
    if trainee is None or trainee.role != "trainee" or actor.id == trainee.id:
        return False
    if actor.role == "admin":
        return True
    if actor.role != "staff" or not actor.institution_id:
        return False
    return bool(s.scalar(select(exists().where(
        Enrollment.trainee_id == trainee.id, Enrollment.class_id == TrainingClass.id,
        TrainingClass.institution_id == actor.institution_id))))


def _code_digest(user_id, code):
    # Keyed: 10^8 codes are too few for a bare hash to survive a copy of the database.
    key = current_app.secret_key.encode()
    return hmac.new(key, f"password-reset\n{user_id}\n{code}".encode(), hashlib.sha256).hexdigest()


def _normalise_code(raw):
    return "".join(c for c in raw if c not in " -") if isinstance(raw, str) else ""


def issue_reset_code(s, actor, trainee):
    """A new one-time code for the trainee (earlier unused codes stop working). Returns (code, row).

    The caller has checked can_reset_password; the code is shown once to the issuer and never stored.
    """
    code = f"{secrets.randbelow(10 ** RESET_CODE_DIGITS):0{RESET_CODE_DIGITS}d}"
    now = now_utc()
    s.execute(update(PasswordResetCode).where(PasswordResetCode.user_id == trainee.id, PasswordResetCode.used_at.is_(None),
                                              PasswordResetCode.revoked_at.is_(None)).values(revoked_at=now))
    row = PasswordResetCode(user_id=trainee.id, issued_by_id=actor.id, code_hash=_code_digest(trainee.id, code),
                            created_at=now, expires_at=now + timedelta(seconds=current_app.config["TRACKER_RESET_CODE_TTL"]))
    s.add(row)
    s.flush()
    ledger.append(s, "account.password_reset_issued",
                  {"user_id": trainee.id, "issued_by": actor.id, "issuer_role": actor.role,
                   "institution_id": actor.institution_id, "code_id": row.id, "expires_at": row.expires_at.isoformat()},
                  actor_id=actor.id, subject_id=trainee.id)
    return code, row


RESET_FAILED = ("reset_failed", "账号或重置码错误，或重置码已失效；请向培训机构工作人员重新获取")


def use_reset_code(s, username, code, new_password, address=None):
    """The trainee sets a new password with the code: single use, before it expires, within its tries.

    Every refusal says the same, so that the page does not tell whether an account or a code exists.
    A wrong code counts against the live code, committed on its own so that the count holds.
    """
    validate_password(new_password)
    code = _normalise_code(code)
    user = services.find_login(s, username if isinstance(username, str) else "")
    now = now_utc()
    row = None
    if user is not None and user.role == "trainee" and user.is_active:
        row = s.scalar(select(PasswordResetCode).where(
            PasswordResetCode.user_id == user.id, PasswordResetCode.used_at.is_(None), PasswordResetCode.revoked_at.is_(None),
            PasswordResetCode.expires_at > now).order_by(PasswordResetCode.id.desc()).limit(1))
    if row is None:
        raise RuleError(*RESET_FAILED)
    if not code.isdigit() or not hmac.compare_digest(row.code_hash, _code_digest(user.id, code)):
        row.failures += 1
        if row.failures >= current_app.config["TRACKER_RESET_CODE_TRIES"]:
            row.revoked_at = now
        s.commit()
        raise RuleError(*RESET_FAILED)
    user_id, code_id, issued_by = user.id, row.id, row.issued_by_id
    s.rollback()  # no lock held while scrypt runs
    new_hash = generate_password_hash(new_password, method=services.PASSWORD_METHOD)
    # Claim the code with a conditional update: two tries racing with the same code, only one wins.
    claimed = s.execute(update(PasswordResetCode).where(PasswordResetCode.id == code_id, PasswordResetCode.used_at.is_(None),
                                                        PasswordResetCode.revoked_at.is_(None))
                        .values(used_at=now_utc())).rowcount
    if claimed != 1:
        raise RuleError(*RESET_FAILED)
    user = s.get(User, user_id)
    user.password_hash = new_hash
    ended = end_everything(s, user_id)
    s.execute(delete(LoginAttempt).where(LoginAttempt.username == f"#{user_id}"))  # a fresh start for the login
    ledger.append(s, "account.password_reset", {"user_id": user_id, "code_id": code_id, "issued_by": issued_by,
                                                 "address": address, **ended}, actor_id=user_id, subject_id=user_id)
    return user
