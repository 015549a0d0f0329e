"""/api/v1 for administrators: the accounts locked after failed logins from many addresses, and lifting a lock."""
from flask import jsonify

from tracker.accounts import locks
from tracker.api import bp
from tracker.api.openapi import _op, extend
from tracker.extensions import db
from tracker.security import api_auth, load_current_user


def lock_json(lock):
    return {"lock_id": lock.id, "user_id": lock.user_id, "name": lock.user.name, "role": lock.user.role,
            "locked_at": lock.locked_at.isoformat(), "until": lock.until.isoformat(), "failures": lock.failures,
            "addresses": lock.addresses}


@bp.get("/admin/account-locks")
@api_auth("admin")
def account_locks():
    return jsonify({"locks": [lock_json(lock) for lock in locks.active_locks(db.session)]})


@bp.post("/admin/users/<int:user_id>/unlock")
@api_auth("admin")
def account_unlock(user_id):
    s = db.session
    lock = locks.lift(s, user_id, load_current_user())
    s.commit()
    return jsonify({"user_id": user_id, "lock_id": lock.id, "lifted": True})


@extend
def _paths():
    return {
        "/admin/account-locks": {"get": _op("因多个地址登录失败而锁定的账号（管理员）", tag="accounts", errors=(401, 403))},
        "/admin/users/{user_id}/unlock": {"post": _op("解除账号锁定（管理员；记入台账）；未锁定 409 not_locked", tag="accounts",
                                                      errors=(401, 403, 409))},
    }
