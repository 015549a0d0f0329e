"""Login throttling that slows an attacker without locking the owner out from another address: per account and
address, per address, and an account-wide lock only after failures from many addresses (in the ledger, shown to the
administrator, who may lift it). The rules are plain functions (tracker/accounts/throttle.py), tested first."""
import json

import pytest
from sqlalchemy import select

from models import AccountLock, LedgerEntry
from tests.conftest import make_id_number
from tracker.accounts.services import create_user
from tracker.accounts.throttle import Failure, Policy, lock_due, login_decision
from tracker.extensions import db

P = Policy(pair_failures=5, address_failures=20, window=900, lock_addresses=10, lock_failures=30, lock_window=3600,
           lock_seconds=86400)
NOW = 1_800_000_000.0


# --- the rules --------------------------------------------------------------------------------------------------------


def test_an_attacker_on_one_address_does_not_stop_the_owner_on_another():
    failures = [Failure("#7", "10.0.0.1", NOW - i) for i in range(200)]
    blocked = login_decision(failures, "#7", "10.0.0.1", NOW, P)
    assert not blocked.allowed and blocked.code == "too_many_attempts" and 0 < blocked.retry_after <= 900
    assert login_decision(failures, "#7", "192.168.1.9", NOW, P).allowed  # the owner at home
    assert not lock_due(failures, "#7", NOW, P)  # one address, however many failures: no account-wide lock


def test_the_pair_limit_counts_only_the_window():
    failures = [Failure("#7", "a", NOW - 1000 - i) for i in range(10)] + [Failure("#7", "a", NOW - 5)] * 4
    assert login_decision(failures, "#7", "a", NOW, P).allowed
    d = login_decision(failures + [Failure("#7", "a", NOW - 100)], "#7", "a", NOW, P)
    assert not d.allowed and d.retry_after == 801  # the oldest of the five leaves the window in 800 s


def test_one_address_guessing_many_accounts_is_slowed():
    failures = [Failure(f"#{n}", "10.9.9.9", NOW - n) for n in range(20)]  # one failure each on 20 accounts
    d = login_decision(failures, "#999", "10.9.9.9", NOW, P)
    assert not d.allowed and d.code == "address_throttled"
    assert login_decision(failures, "#999", "10.9.9.8", NOW, P).allowed
    assert login_decision(failures[:19], "#999", "10.9.9.9", NOW, P).allowed


def test_an_account_wide_lock_needs_many_failures_from_many_addresses():
    spread = [Failure("#7", f"10.0.{n % 10}.1", NOW - n) for n in range(30)]  # 30 failures from 10 addresses
    assert lock_due(spread, "#7", NOW, P)
    assert not lock_due(spread[:29], "#7", NOW, P)  # too few failures
    few_places = [Failure("#7", f"10.0.{n % 9}.1", NOW - n) for n in range(60)]  # 9 addresses
    assert not lock_due(few_places, "#7", NOW, P)
    old = [Failure("#7", f"10.0.{n % 10}.1", NOW - 4000 - n) for n in range(30)]  # outside the lock window
    assert not lock_due(old, "#7", NOW, P)
    d = login_decision([], "#7", "anywhere", NOW, P, locked_until=NOW + 600)
    assert not d.allowed and d.code == "account_locked" and d.retry_after == 601
    assert login_decision([], "#7", "anywhere", NOW, P, locked_until=NOW - 1).allowed


# --- the login path ---------------------------------------------------------------------------------------------------


@pytest.fixture
def people(app):
    """An owner, another account, and an administrator, made directly (registration is rate-limited per address)."""
    out = {}
    with app.app_context(), db.transaction() as s:
        for key, role, phone in (("owner", "staff", "13800000001"), ("other", "trainee", "13800000002"),
                                 ("admin", "admin", "13800000003")):
            extra = {"category": "企业职工"} if role == "trainee" else {}
            if role == "staff":
                from models import Institution

                inst = Institution(name="测试学校", region_code="150102")
                s.add(inst)
                s.flush()
                extra = {"institution_id": inst.id}
            user = create_user(s, role=role, name=key, password="Passw0rd1", phone=phone,
                               id_number=make_id_number(), **extra)
            out[key] = {"user_id": user.id, "username": phone, "password": "Passw0rd1"}
    return out


def token(client, who, password=None, addr="127.0.0.1"):
    return client.post("/api/v1/auth/token", json={"username": who["username"], "password": password or who["password"]},
                       environ_base={"REMOTE_ADDR": addr})


def test_an_attacker_cannot_lock_the_owner_out_from_another_address(app, client, people):
    owner = people["owner"]
    codes = [token(client, owner, "Wrong1234", "203.0.113.5").status_code for _ in range(12)]
    assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}
    r = token(client, owner, "Wrong1234", "203.0.113.5")
    assert r.get_json()["error"]["code"] == "too_many_attempts" and "分钟" in r.get_json()["error"]["message"]
    # even the right password from the attacker's address waits; the owner at the office does not
    assert token(client, owner, addr="203.0.113.5").status_code == 429
    assert token(client, owner, addr="198.51.100.7").status_code == 200
    # and the owner's success does not give the attacker fresh tries
    assert token(client, owner, "Wrong1234", "203.0.113.5").status_code == 429
    # the web login behaves the same
    page = client.post("/login", data={"username": owner["username"], "password": owner["password"]},
                       environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert page.status_code == 302


def test_one_address_trying_many_accounts_is_slowed_for_all_of_them(app, client, people):
    app.config["TRACKER_LOGIN_ADDRESS_MAX_FAILURES"] = 8
    for n in range(8):  # eight unknown names, one try each
        r = client.post("/api/v1/auth/token", json={"username": f"1370000{n:04d}", "password": "Wrong1234"},
                        environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert r.status_code == 400
    r = token(client, people["other"], addr="203.0.113.9")
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "address_throttled"
    assert token(client, people["other"], addr="203.0.113.10").status_code == 200


def test_failures_from_many_addresses_lock_the_account_in_the_ledger_until_an_admin_lifts_it(app, client, people):
    app.config.update(TRACKER_LOGIN_LOCK_ADDRESSES=4, TRACKER_LOGIN_LOCK_FAILURES=8, TRACKER_LOGIN_MAX_FAILURES=3)
    owner = people["owner"]
    for n in range(4):
        for _ in range(2):
            assert token(client, owner, "Wrong1234", f"198.18.0.{n}").status_code == 400
    # locked everywhere now, even for the right password from an address never seen
    r = token(client, owner, addr="192.0.2.1")
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "account_locked"
    assert "管理员" in r.get_json()["error"]["message"]
    assert token(client, people["other"], addr="192.0.2.1").status_code == 200  # others are not affected
    with app.app_context():
        s = db.session
        (entry,) = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "account.locked")).all()
        payload = json.loads(entry.payload)
        assert payload["user_id"] == owner["user_id"] and payload["addresses"] == 4 and payload["failures"] == 8
        assert entry.subject_id == owner["user_id"]
        assert s.scalar(select(AccountLock.user_id)) == owner["user_id"]
        s.remove()
    # the API lists it for an administrator only
    admin_token = token(client, people["admin"], addr="192.0.2.2").get_json()["token"]
    listed = client.get("/api/v1/admin/account-locks", headers={"Authorization": f"Bearer {admin_token}"}).get_json()
    assert [(x["user_id"], x["addresses"]) for x in listed["locks"]] == [(owner["user_id"], 4)]
    other_token = token(client, people["other"], addr="192.0.2.3").get_json()["token"]
    assert client.get("/api/v1/admin/account-locks", headers={"Authorization": f"Bearer {other_token}"}).status_code == 403
    # the administrator sees the lock and lifts it
    admin = app.test_client()
    assert admin.post("/login", data={"username": people["admin"]["username"], "password": "Passw0rd1"}).status_code == 302
    html = admin.get("/admin/users").get_data(as_text=True)
    assert f'data-user-id="{owner["user_id"]}"' in html and "解除锁定" in html
    assert client.post(f"/admin/users/{owner['user_id']}/unlock").status_code in (302, 401, 403)  # not an admin
    assert admin.post(f"/admin/users/{owner['user_id']}/unlock").status_code == 302
    assert token(client, owner, addr="192.0.2.1").status_code == 200
    assert "当前没有被锁定的账号" in admin.get("/admin/users").get_data(as_text=True)
    r = client.post(f"/api/v1/admin/users/{owner['user_id']}/unlock", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_locked"
    with app.app_context():
        (entry,) = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "account.unlocked")).all()
        assert entry.actor_id == people["admin"]["user_id"] and json.loads(entry.payload)["user_id"] == owner["user_id"]
    assert app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0


def test_failures_older_than_every_window_are_forgotten(app, client, people):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import func, update

    from models import LoginAttempt

    for _ in range(3):
        token(client, people["owner"], "Wrong1234", "203.0.113.77")
    with app.app_context(), db.transaction() as s:
        s.execute(update(LoginAttempt).values(at=datetime.now(timezone.utc) - timedelta(seconds=2 * 3600)))
    token(client, people["owner"], "Wrong1234", "203.0.113.77")
    with app.app_context(), db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_an_administrator_lifts_a_lock_through_the_api(app, client, people):
    app.config.update(TRACKER_LOGIN_LOCK_ADDRESSES=2, TRACKER_LOGIN_LOCK_FAILURES=2)
    owner = people["owner"]
    for n in range(2):
        token(client, owner, "Wrong1234", f"198.18.1.{n}")
    assert token(client, owner, addr="192.0.2.9").status_code == 429
    admin_token = token(client, people["admin"], addr="192.0.2.2").get_json()["token"]
    r = client.post(f"/api/v1/admin/users/{owner['user_id']}/unlock", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200 and r.get_json()["lifted"]
    assert token(client, owner, addr="192.0.2.9").status_code == 200
