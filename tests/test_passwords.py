"""Changing one's password (every role) and resetting a trainee's with a one-time code from their institution."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from models import Enrollment, Institution, LedgerEntry, TrainingClass, User
from tracker.accounts.services import create_user
from tracker.extensions import db

from tests.conftest import register_payload

PASSWORD = "Demo1234"
NEW = "Fresh5678x"


def account(demo, role):
    return next(a for a in demo["accounts"] if a["role"] == role)


def browser(app, username, password=PASSWORD):
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c


def can_log_in(app, username, password):
    return app.test_client().post("/login", data={"username": username, "password": password}).status_code == 302


def entries(kind):
    with db.transaction() as s:
        return [(e.actor_id, e.subject_id, json.loads(e.payload)) for e in
                s.scalars(select(LedgerEntry).where(LedgerEntry.kind == kind).order_by(LedgerEntry.seq))]


def ledger_text():
    with db.transaction() as s:
        return "\n".join(s.scalars(select(LedgerEntry.payload)))


def error_text(html):
    m = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    assert m, "no error shown"
    return m.group(1)


# --- changing one's password -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["trainee", "staff", "regulator", "admin"])
def test_every_role_changes_their_password_on_the_account_page(app, demo, api, role):
    who = account(demo, role)
    here, elsewhere = browser(app, who["username"]), browser(app, who["username"])
    cookie = here.get_cookie("session").value
    phone_app = api(who["username"])
    page = here.get("/account").get_data(as_text=True)
    assert "修改密码" in page and 'name="current_password"' in page
    r = here.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW, "new_password2": NEW})
    assert r.status_code == 302 and r.headers["Location"] == "/account?done=password"
    assert here.get("/account").status_code == 200  # this browser stays logged in, on a new session
    assert here.get_cookie("session").value != cookie
    assert elsewhere.get("/account").status_code == 302  # every other browser is logged out
    c = app.test_client()
    c.set_cookie("session", cookie)
    assert c.get("/account").status_code == 302  # and so is the old cookie of this one
    assert phone_app.get("/me").status_code == 401  # every token revoked
    assert not can_log_in(app, who["username"], PASSWORD) and can_log_in(app, who["username"], NEW)
    [(actor, subject, payload)] = entries("account.password_changed")
    assert actor == subject == who["user_id"] and payload["via"] == "web"
    assert payload["sessions_ended"] == 1 and payload["tokens_revoked"] == 1
    assert PASSWORD not in ledger_text() and NEW not in ledger_text()


@pytest.mark.parametrize("form,message", [
    ({"current_password": "Wrong1234", "new_password": NEW, "new_password2": NEW}, "当前密码不正确"),
    ({"current_password": PASSWORD, "new_password": "short1", "new_password2": "short1"}, "密码至少8位"),
    ({"current_password": PASSWORD, "new_password": "lettersonly", "new_password2": "lettersonly"}, "字母和数字"),
    ({"current_password": PASSWORD, "new_password": NEW, "new_password2": NEW + "x"}, "不一致"),
    ({"current_password": PASSWORD, "new_password": PASSWORD, "new_password2": PASSWORD}, "不能与当前密码相同"),
])
def test_a_refused_password_change_changes_nothing(app, demo, api, form, message):
    who = account(demo, "trainee")
    c = browser(app, who["username"])
    phone_app = api(who["username"])
    r = c.post("/account/password", data=form)
    assert r.status_code in (400, 429) and message in error_text(r.get_data(as_text=True))
    assert c.get("/account").status_code == 200 and phone_app.get("/me").status_code == 200
    assert can_log_in(app, who["username"], PASSWORD)
    assert entries("account.password_changed") == []


def test_wrong_current_passwords_are_throttled_like_logins(app, demo):
    who = account(demo, "staff")
    c = browser(app, who["username"])
    bad = {"current_password": "Wrong1234", "new_password": NEW, "new_password2": NEW}
    for _ in range(app.config["TRACKER_LOGIN_MAX_FAILURES"]):
        assert c.post("/account/password", data=bad).status_code == 400
    good = {"current_password": PASSWORD, "new_password": NEW, "new_password2": NEW}
    assert c.post("/account/password", data=good).status_code == 429


def test_password_change_by_api_with_a_token_returns_a_new_token(app, demo, api):
    who = account(demo, "trainee")
    me, other = api(who["username"]), api(who["username"])
    web = browser(app, who["username"])
    r = me.post("/me/password", {"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["tokens_revoked"] == 2 and body["sessions_ended"] == 1 and body["token"]
    assert r.headers["Cache-Control"] == "no-store"
    assert me.get("/me").status_code == 401 and other.get("/me").status_code == 401
    assert web.get("/account").status_code == 302
    me.token = body["token"]
    assert me.get("/me").status_code == 200
    [(_a, _s, payload)] = entries("account.password_changed")
    assert payload["via"] == "api"


def test_password_change_by_api_refusals(app, demo, api):
    me = api(account(demo, "regulator")["username"])
    r = me.post("/me/password", {"current_password": "Wrong1234", "new_password": NEW})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "wrong_password"
    r = me.post("/me/password", {"current_password": PASSWORD, "new_password": "abc"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "weak_password"
    assert me.post("/me/password", {"new_password": NEW}).status_code == 400
    assert api().post("/me/password", {"current_password": PASSWORD, "new_password": NEW}).status_code == 401
    assert me.get("/me").status_code == 200


# --- resetting a trainee's password -----------------------------------------------------------------------------


@pytest.fixture
def world(app, demo):
    """The demo's trainee (on a roster of the demo institution), a trainee on no roster, and a second institution
    with its own staff member, class and trainee."""
    with app.app_context(), db.transaction() as s:
        inst = Institution(name="另一所培训学校", region_code="110105")
        s.add(inst)
        s.flush()
        other_staff = create_user(s, role="staff", name="赵老师", password=PASSWORD, phone="13700000001", institution_id=inst.id)
        data = register_payload()
        loner = create_user(s, role="trainee", name="未入班学员", password=PASSWORD, id_number=data["id_number"],
                            phone=data["phone"], category="企业职工")
        demo_class = s.get(TrainingClass, demo["classes"][0]["class_id"])
        other_class = TrainingClass(institution_id=inst.id, name="另一班", occupation="电工", form="录播", total_hours=10,
                                    online_hours=4, policy_profile="standard")
        s.add(other_class)
        s.flush()
        data2 = register_payload()
        theirs = create_user(s, role="trainee", name="另一机构学员", password=PASSWORD, id_number=data2["id_number"],
                             phone=data2["phone"], category="企业职工")
        s.add(Enrollment(class_id=other_class.id, trainee_id=theirs.id))
        s.flush()
        return {"other_staff": "13700000001", "loner_id": loner.id, "theirs_id": theirs.id,
                "demo_institution": demo_class.institution_id, "trainee": account(demo, "trainee")}


def issue(api_client, trainee_id):
    return api_client.post(f"/trainees/{trainee_id}/password-reset")


def use(api, username, code, new=NEW):
    return api().post("/auth/password-reset", {"username": username, "code": code, "new_password": new})


def test_staff_of_the_trainees_institution_issues_a_code_and_the_trainee_uses_it(app, demo, api, world):
    trainee, staff = world["trainee"], account(demo, "staff")
    phone_app = api(trainee["username"])
    web = browser(app, trainee["username"])
    r = issue(api(staff["username"]), trainee["user_id"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    code = body["code"]
    assert re.fullmatch(r"\d{8}", code) and r.headers["Cache-Control"] == "no-store"
    assert body["trainee_id"] == trainee["user_id"] and body["tries"] == app.config["TRACKER_RESET_CODE_TRIES"]
    # Issuing changes nothing yet: the trainee may not even have lost the password.
    assert web.get("/account").status_code == 200 and can_log_in(app, trainee["username"], PASSWORD)
    r = use(api, trainee["username"], code)
    assert r.status_code == 200 and r.get_json() == {"reset": True}
    assert can_log_in(app, trainee["username"], NEW) and not can_log_in(app, trainee["username"], PASSWORD)
    assert web.get("/account").status_code == 302 and phone_app.get("/me").status_code == 401
    # Single use.
    assert use(api, trainee["username"], code, "Another9999").status_code == 400
    [(actor, subject, issued)] = entries("account.password_reset_issued")
    assert actor == staff["user_id"] and subject == trainee["user_id"] and issued["issued_by"] == staff["user_id"]
    [(actor, subject, done)] = entries("account.password_reset")
    assert actor == subject == trainee["user_id"] and done["issued_by"] == staff["user_id"]
    assert done["code_id"] == issued["code_id"] == body["code_id"]
    assert done["sessions_ended"] == 2 and done["tokens_revoked"] == 1  # `web` and the can_log_in check; the phone app
    text = ledger_text()
    assert code not in text and NEW not in text


def test_the_code_is_stored_only_as_a_keyed_digest(app, demo, api, world):
    from models import PasswordResetCode

    code = issue(api(account(demo, "staff")["username"]), world["trainee"]["user_id"]).get_json()["code"]
    with db.transaction() as s:
        row = s.scalars(select(PasswordResetCode)).one()
    import hashlib

    assert code not in row.code_hash and row.code_hash != hashlib.sha256(code.encode()).hexdigest()


def test_admin_resets_any_trainee_even_one_on_no_roster(app, demo, api, world):
    r = issue(api(account(demo, "admin")["username"]), world["loner_id"])
    assert r.status_code == 201
    with db.transaction() as s:
        loner = s.get(User, world["loner_id"])
        username = loner.phone
    assert use(api, username, r.get_json()["code"]).status_code == 200
    assert can_log_in(app, username, NEW)


@pytest.mark.parametrize("who", ["other_staff", "regulator", "trainee", "staff_on_loner", "staff_on_staff", "staff_on_admin",
                                 "admin_on_staff", "staff_on_nobody"])
def test_reset_denials_do_not_reveal_whether_the_account_exists(app, demo, api, world, who):
    staff, admin = account(demo, "staff"), account(demo, "admin")
    cases = {
        "other_staff": (world["other_staff"], world["trainee"]["user_id"], 404),
        "regulator": (account(demo, "regulator")["username"], world["trainee"]["user_id"], 403),
        "trainee": (world["trainee"]["username"], world["theirs_id"], 403),
        "staff_on_loner": (staff["username"], world["loner_id"], 404),
        "staff_on_staff": (staff["username"], staff["user_id"], 404),
        "staff_on_admin": (staff["username"], admin["user_id"], 404),
        "admin_on_staff": (admin["username"], staff["user_id"], 404),
        "staff_on_nobody": (staff["username"], 999999, 404),
    }
    username, target, status = cases[who]
    before = len(entries("account.password_reset_issued"))
    r = issue(api(username), target)
    assert r.status_code == status and "code" not in r.get_json()
    if status == 404:  # the same answer as for an id that names no account
        assert r.get_json() == issue(api(staff["username"]), 999999).get_json()
    # The page says the same.
    c = browser(app, username)
    page_status = 403 if status == 403 else 404
    assert c.get(f"/trainees/{target}/password-reset").status_code == page_status
    assert c.post(f"/trainees/{target}/password-reset").status_code == page_status
    assert len(entries("account.password_reset_issued")) == before


def test_staff_of_the_other_institution_resets_its_own_trainee(app, demo, api, world):
    assert issue(api(world["other_staff"]), world["theirs_id"]).status_code == 201


def test_a_wrong_code_counts_and_the_code_dies_after_its_tries(app, demo, api, world):
    trainee = world["trainee"]
    code = issue(api(account(demo, "staff")["username"]), trainee["user_id"]).get_json()["code"]
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(app.config["TRACKER_RESET_CODE_TRIES"]):
        r = use(api, trainee["username"], wrong)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "reset_failed"
    assert use(api, trainee["username"], code).status_code == 400  # the right code, too late
    assert can_log_in(app, trainee["username"], PASSWORD)


def test_an_expired_code_and_a_replaced_code_are_refused(app, demo, api, world):
    from models import PasswordResetCode

    trainee, staff = world["trainee"], api(account(demo, "staff")["username"])
    first = issue(staff, trainee["user_id"]).get_json()["code"]
    second = issue(staff, trainee["user_id"]).get_json()["code"]
    assert use(api, trainee["username"], first).status_code == 400  # replaced by the second
    with db.transaction() as s:
        s.execute(update(PasswordResetCode).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert use(api, trainee["username"], second).status_code == 400
    assert can_log_in(app, trainee["username"], PASSWORD)


def test_refusals_of_the_public_call_all_say_the_same(app, demo, api, world):
    trainee = world["trainee"]
    code = issue(api(account(demo, "staff")["username"]), trainee["user_id"]).get_json()["code"]
    answers = [use(api, "13999999999", code).get_json(),  # no such account
               use(api, account(demo, "staff")["username"], code).get_json(),  # not a trainee
               use(api, "nonsense", code).get_json()]  # a name no account has
    assert all(a == answers[0] for a in answers) and answers[0]["error"]["code"] == "reset_failed"
    r = use(api, trainee["username"], code, "weak")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "weak_password"
    assert use(api, trainee["username"], code).status_code == 200  # the weak try did not use it up


def test_reset_pages_in_chinese_the_code_shown_once(app, demo, world):
    trainee, staff = world["trainee"], account(demo, "staff")
    class_id = demo["classes"][0]["class_id"]
    c = browser(app, staff["username"])
    roster = c.get(f"/classes/{class_id}").get_data(as_text=True)
    assert f'/trainees/{trainee["user_id"]}/password-reset' in roster and "重置密码" in roster
    page = c.get(f"/trainees/{trainee['user_id']}/password-reset?back=/classes/{class_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "签发一次性重置码" in html and trainee["username"] not in html
    r = c.post(f"/trainees/{trainee['user_id']}/password-reset", data={"back": f"/classes/{class_id}"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    code = re.search(r"data-code>(\d{8})<", r.get_data(as_text=True)).group(1)
    assert code not in c.get(f"/trainees/{trainee['user_id']}/password-reset").get_data(as_text=True)
    # The trainee, on the public page.
    login = app.test_client().get("/login").get_data(as_text=True)
    assert "/forgot-password" in login and "忘记密码" in login
    t = app.test_client()
    form = t.get("/forgot-password").get_data(as_text=True)
    assert "忘记密码" in form and "重置码" in form
    r = t.post("/forgot-password", data={"username": trainee["username"], "code": code, "new_password": NEW,
                                         "new_password2": NEW + "x"})
    assert r.status_code == 400 and "不一致" in error_text(r.get_data(as_text=True))
    r = t.post("/forgot-password", data={"username": trainee["username"], "code": "00000000", "new_password": NEW,
                                         "new_password2": NEW})
    assert r.status_code == 400 and "重置码" in error_text(r.get_data(as_text=True))
    r = t.post("/forgot-password", data={"username": trainee["username"], "code": code[:4] + "-" + code[4:],
                                         "new_password": NEW, "new_password2": NEW})
    assert r.status_code == 302 and r.headers["Location"] == "/login?reset=1"
    assert "密码已重置" in t.get("/login?reset=1").get_data(as_text=True)
    assert can_log_in(app, trainee["username"], NEW)


def test_the_trace_page_offers_staff_the_reset(app, demo, world):
    trainee = world["trainee"]
    staff_page = browser(app, account(demo, "staff")["username"]).get(f"/regulator/trainees/{trainee['user_id']}")
    assert f'/trainees/{trainee["user_id"]}/password-reset' in staff_page.get_data(as_text=True)
    reg_page = browser(app, account(demo, "regulator")["username"]).get(f"/regulator/trainees/{trainee['user_id']}")
    assert reg_page.status_code == 200 and "password-reset" not in reg_page.get_data(as_text=True)


def test_openapi_documents_the_new_calls(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [("/auth/logout", "post"), ("/me/tokens", "get"), ("/me/tokens/{token_id}", "delete"),
                         ("/me/sessions", "get"), ("/me/sessions/{session_id}", "delete"), ("/me/password", "post"),
                         ("/trainees/{trainee_id}/password-reset", "post"), ("/auth/password-reset", "post")]:
        assert method in paths.get(path, {}), path
    body = paths["/auth/password-reset"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"username", "code", "new_password"}
    assert "security" not in paths["/auth/password-reset"]["post"]


def test_counts_are_untouched_by_a_refused_issue(app, demo, api, world):
    from models import PasswordResetCode

    with db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(PasswordResetCode))
    issue(api(world["other_staff"]), world["trainee"]["user_id"])
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(PasswordResetCode)) == before


def test_password_change_by_api_with_the_cookie_rotates_the_browser_session(app, demo):
    who = account(demo, "staff")
    c = browser(app, who["username"])
    old = c.get_cookie("session").value
    token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/account").get_data(as_text=True)).group(1)
    r = c.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and "token" not in r.get_json()
    assert c.get("/api/v1/me").status_code == 200 and c.get_cookie("session").value != old
    stale = app.test_client()
    stale.set_cookie("session", old)
    assert stale.get("/api/v1/me").status_code == 401


def test_admin_user_list_links_trainees_to_the_reset(app, demo):
    html = browser(app, account(demo, "admin")["username"]).get("/admin/users").get_data(as_text=True)
    trainee = account(demo, "trainee")
    assert f'/trainees/{trainee["user_id"]}/password-reset' in html
    assert f'/trainees/{account(demo, "staff")["user_id"]}/password-reset' not in html
