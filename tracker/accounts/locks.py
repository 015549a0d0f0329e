"""The login path's side of throttling: read the recorded failures, ask tracker/accounts/throttle.py, record a new
failure, lock an account everywhere when the rules say so (with a ledger entry), and let an administrator lift it."""
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, or_, select

from models import AccountLock, LoginAttempt
from tracker import ledger
from tracker.accounts.rules import RuleError
from tracker.accounts.throttle import Failure, Policy, lock_due, login_decision

MESSAGES = {
    "too_many_attempts": "登录失败次数过多，请{wait}后再试",
    "address_throttled": "本网络地址登录失败次数过多，请{wait}后再试",
    "account_locked": "该账号因多个地址登录失败次数过多已被临时锁定，请{wait}后再试，或联系管理员解除锁定",
}


def policy():
    return Policy.from_config(current_app.config)


def _ts(moment):
    if moment.tzinfo is None:  # SQLite returns naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _failures(s, where, since):
    rows = s.execute(select(LoginAttempt.username, LoginAttempt.address, LoginAttempt.at)
                     .where(where, LoginAttempt.at >= since)).all()
    return [Failure(account, address, _ts(at)) for account, address, at in rows]


def active_lock(s, user_id, now=None):
    now = now or datetime.now(timezone.utc)
    if user_id is None:
        return None
    return s.scalar(select(AccountLock).where(AccountLock.user_id == user_id, AccountLock.lifted_at.is_(None),
                                              AccountLock.until > now).order_by(AccountLock.id.desc()).limit(1))


def _wait_text(seconds):
    minutes = max(1, -(-seconds // 60))
    return f"{minutes}分钟" if minutes < 120 else f"{-(-minutes // 60)}小时"


def check(s, account, address, user_id):
    """Raise a 429 RuleError when this address may not try a password for this account now."""
    p, now = policy(), datetime.now(timezone.utc)
    lock = active_lock(s, user_id, now)
    failures = _failures(s, or_(LoginAttempt.username == account, LoginAttempt.address == address),
                         now - timedelta(seconds=p.window))
    decision = login_decision(failures, account, address, now.timestamp(), p,
                              locked_until=_ts(lock.until) if lock else None)
    if not decision.allowed:
        raise RuleError(decision.code, MESSAGES[decision.code].format(wait=_wait_text(decision.retry_after)),
                        status=429)


def record_failure(s, account, address, user_id):
    """Record a failed login in the caller's transaction; lock the account everywhere when the rules say so."""
    p, now = policy(), datetime.now(timezone.utc)
    # Failures older than every window count for nothing: forget this account's and this address's.
    s.execute(delete(LoginAttempt).where(or_(LoginAttempt.username == account, LoginAttempt.address == address),
                                         LoginAttempt.at < now - timedelta(seconds=max(p.window, p.lock_window))))
    s.add(LoginAttempt(username=account, address=address))
    if user_id is None:
        return None
    s.flush()
    if active_lock(s, user_id, now) is not None:
        return None
    failures = _failures(s, LoginAttempt.username == account, now - timedelta(seconds=p.lock_window))
    if not lock_due(failures, account, now.timestamp(), p):
        return None
    lock = AccountLock(user_id=user_id, locked_at=now, until=now + timedelta(seconds=p.lock_seconds),
                       failures=len(failures), addresses=len({f.address for f in failures}))
    s.add(lock)
    s.flush()
    ledger.append(s, "account.locked", {"user_id": user_id, "lock_id": lock.id, "until": lock.until.isoformat(),
                                        "failures": lock.failures, "addresses": lock.addresses,
                                        "window_seconds": p.lock_window}, subject_id=user_id)
    return lock


def record_success(s, account, address):
    """A login that succeeded clears its own address's failures for the account, not those from elsewhere."""
    s.execute(delete(LoginAttempt).where(LoginAttempt.username == account, LoginAttempt.address == address))


def active_locks(s):
    now = datetime.now(timezone.utc)
    return s.scalars(select(AccountLock).where(AccountLock.lifted_at.is_(None), AccountLock.until > now)
                     .order_by(AccountLock.id)).all()


def lift(s, user_id, admin):
    """An administrator lifts a standing lock (recorded in the ledger); the account's failures are forgotten."""
    if admin.role != "admin":
        raise RuleError("forbidden", "只有管理员可以解除账号锁定", status=403)
    lock = active_lock(s, user_id)
    if lock is None:
        raise RuleError("not_locked", "该账号当前未被锁定", status=409)
    lock.lifted_at, lock.lifted_by = datetime.now(timezone.utc), admin.id
    s.execute(delete(LoginAttempt).where(LoginAttempt.username == f"#{user_id}"))
    ledger.append(s, "account.unlocked", {"user_id": user_id, "lock_id": lock.id, "lifted_by": admin.id},
                  actor_id=admin.id, subject_id=user_id)
    return lock
