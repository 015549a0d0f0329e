"""Who may see and do what: each denial shown next to the allowance that proves it is the rule at work."""
import re

import pytest
from sqlalchemy import func, select

from models import Enrollment, Institution, LedgerEntry, TrainingClass, User
from tracker.accounts.rules import id_check_digit
from tracker.accounts.services import create_user
from tracker.extensions import db
from tracker.security import region_covers

from tests.conftest import make_id_number, register_payload

PASSWORD = "Demo1234"
OTHER_STAFF_PHONE = "13700000001"


def account(demo, role, n=0):
    return [a for a in demo["accounts"] if a["role"] == role][n]


def class_id(demo):
    return demo["classes"][0]["class_id"]


def web_login(app, username, password=PASSWORD):
    """A fresh browser (cookie jar) logged in through the login form."""
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return c


def assert_json_error(r, status):
    assert r.status_code == status, (r.status_code, r.data[:300])
    err = r.get_json()["error"]
    assert err["code"] and err["message"]
    return err


def counts():
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(Enrollment)), s.scalar(select(func.count()).select_from(LedgerEntry)))


@pytest.fixture
def other_institution(app, demo):
    """A second institution in Beijing with its own staff member and a regulator for Beijing."""
    with app.app_context():
        with db.transaction() as s:
            inst = Institution(name="北京另一所职业技能培训学校", region_code="110105")
            s.add(inst)
            s.flush()
            staff = create_user(s, role="staff", name="赵老师", password=PASSWORD, phone=OTHER_STAFF_PHONE, institution_id=inst.id)
            reg = create_user(s, role="regulator", name="北京科长", password=PASSWORD, phone="13700000002", region_code="110000")
            return {"institution_id": inst.id, "staff_id": staff.id, "staff": OTHER_STAFF_PHONE,
                    "regulator_id": reg.id, "regulator": "13700000002"}


def new_trainee(api):
    data = register_payload()
    r = api().post("/auth/register", data)
    assert r.status_code == 201, r.get_json()
    return data, r.get_json()["user_id"]


# --- no credentials ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", "/api/v1/me"), ("GET", "/api/v1/me/classes"), ("GET", "/api/v1/users/1"),
                                         ("POST", "/api/v1/classes/1/roster"), ("GET", "/api/v1/ledger/head")])
def test_api_without_token_is_401_json(app, demo, client, method, path):
    r = client.open(path, method=method, json={"id_number": make_id_number()} if method == "POST" else None)
    err = assert_json_error(r, 401)
    assert err["code"] == "unauthorized"


@pytest.mark.parametrize("path", ["/learn", "/staff/classes", "/regulator/classes", "/classes/1", "/admin/users", "/account"])
def test_pages_without_login_redirect_to_login(app, demo, client, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login")
    # And the login page remembers where the user was going.
    assert "next=" in r.headers["Location"]


def test_home_without_login_redirects_to_login(app, client):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


# --- roster writes ----------------------------------------------------------------------------------------------


def test_trainee_cannot_add_to_roster_but_staff_can(app, demo, api):
    data, trainee_id = new_trainee(api)
    trainee, staff = api(account(demo, "trainee")["username"]), api(account(demo, "staff")["username"])
    before = counts()  # after the logins, which are ledger entries of their own
    err = assert_json_error(trainee.post(f"/classes/{class_id(demo)}/roster", {"id_number": data["id_number"]}), 403)
    assert err["code"] == "forbidden"
    assert counts() == before
    r = staff.post(f"/classes/{class_id(demo)}/roster", {"id_number": data["id_number"]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["trainee_id"] == trainee_id
    assert counts() == (before[0] + 1, before[1] + 1)


def test_regulator_cannot_add_to_roster(app, demo, api):
    data, _ = new_trainee(api)
    regulator = api(account(demo, "regulator")["username"])
    before = counts()
    assert_json_error(regulator.post(f"/classes/{class_id(demo)}/roster", {"id_number": data["id_number"]}), 403)
    assert counts() == before


def test_staff_of_another_institution_cannot_add_to_roster(app, demo, api, other_institution):
    data, _ = new_trainee(api)
    other = api(other_institution["staff"])
    before = counts()
    err = assert_json_error(other.post(f"/classes/{class_id(demo)}/roster", {"id_number": data["id_number"]}), 403)
    assert err["code"] == "forbidden"
    assert counts() == before


def test_roster_add_errors(app, demo, api):
    staff = api(account(demo, "staff")["username"])
    data, _ = new_trainee(api)
    assert_json_error(staff.post("/classes/999999/roster", {"id_number": data["id_number"]}), 404)
    assert_json_error(staff.post(f"/classes/{class_id(demo)}/roster", {}), 400)
    assert_json_error(staff.post(f"/classes/{class_id(demo)}/roster", {"id_number": "123"}), 400)
    assert_json_error(staff.post(f"/classes/{class_id(demo)}/roster", {"id_number": make_id_number()}), 404)
    enrolled = account(demo, "trainee")["id_number"]
    assert_json_error(staff.post(f"/classes/{class_id(demo)}/roster", {"id_number": enrolled}), 409)
    assert_json_error(staff.post(f"/classes/{class_id(demo)}/roster", {"id_number": ["x"]}), 400)


# --- the class page --------------------------------------------------------------------------------------------


def test_class_page_own_staff_200_other_staff_403(app, demo, other_institution):
    path = f"/classes/{class_id(demo)}"
    assert web_login(app, account(demo, "staff")["username"]).get(path).status_code == 200
    other = web_login(app, other_institution["staff"])
    r = other.get(path)
    assert r.status_code == 403
    assert "无权" in r.get_data(as_text=True)
    # Nor through the page's roster form.
    before = counts()
    assert other.post(path, data={"id_number": make_id_number()}).status_code == 403
    assert counts() == before


def test_class_page_regulator_of_the_region_200_of_another_403(app, demo, other_institution):
    path = f"/classes/{class_id(demo)}"
    regulator = web_login(app, account(demo, "regulator")["username"])  # region 150100 covers 150102
    page = regulator.get(path)
    assert page.status_code == 200
    assert "花名册" in page.get_data(as_text=True)
    assert web_login(app, other_institution["regulator"]).get(path).status_code == 403  # region 110000
    # The regulator reads; it does not manage the roster.
    assert regulator.post(path, data={"id_number": make_id_number()}).status_code == 403


@pytest.mark.parametrize("regulator,institution,covers", [
    ("150000", "150102", True),   # the province covers its districts
    ("150100", "150102", True),   # the city covers its districts
    ("150102", "150102", True),   # the district itself
    ("150200", "150102", False),  # another city of the same province
    ("150103", "150102", False),  # a neighbouring district
    ("110000", "150102", False),  # another province
    ("500000", "500103", True),
    ("500000", "510104", False),  # Chongqing does not cover Sichuan
    ("120110", "120110", True),
    ("120110", "120111", False),  # Dongli district does not cover Xiqing district
    ("150110", "150111", False),
    ("000000", "150102", False),  # no prefix covers nothing, not everything
    ("", "150102", False),
    (None, "150102", False),
    ("150100", "", False),
    ("150100", None, False),
])
def test_region_covers(regulator, institution, covers):
    assert region_covers(regulator, institution) is covers


@pytest.mark.parametrize("region,status", [("150000", 200), ("150102", 200), ("150200", 403), ("150103", 403)])
def test_class_page_for_regulators_of_nearby_regions(app, demo, region, status):
    with db.transaction() as s:
        create_user(s, role="regulator", name="科长", password=PASSWORD, phone="13700000009", region_code=region)
    assert web_login(app, "13700000009").get(f"/classes/{class_id(demo)}").status_code == status


def test_regulator_lists_only_its_region(app, demo, other_institution):
    with db.transaction() as s:
        s.add(TrainingClass(institution_id=other_institution["institution_id"], name="北京第1期 保育员"))
    beijing = web_login(app, other_institution["regulator"]).get("/regulator/classes").get_data(as_text=True)
    inner_mongolia = web_login(app, account(demo, "regulator")["username"]).get("/regulator/classes").get_data(as_text=True)
    assert "北京第1期 保育员" in beijing and "低压电工" not in beijing
    assert "低压电工" in inner_mongolia and "北京第1期 保育员" not in inner_mongolia


def test_trainee_gets_403_on_class_page_and_admin_users(app, demo):
    trainee = web_login(app, account(demo, "trainee")["username"])
    assert trainee.get(f"/classes/{class_id(demo)}").status_code == 403
    assert trainee.get("/admin/users").status_code == 403
    assert trainee.get("/staff/classes").status_code == 403
    assert trainee.get("/learn").status_code == 200


@pytest.mark.parametrize("role,status", [("staff", 403), ("regulator", 403), ("admin", 200)])
def test_admin_users_only_for_admin(app, demo, role, status):
    assert web_login(app, account(demo, role)["username"]).get("/admin/users").status_code == status


@pytest.mark.parametrize("role,home", [("trainee", "/learn"), ("staff", "/staff/classes"),
                                       ("regulator", "/regulator/classes"), ("admin", "/admin/users")])
def test_each_role_lands_on_its_home(app, demo, role, home):
    r = web_login(app, account(demo, role)["username"]).get("/")
    assert r.status_code == 302 and r.headers["Location"] == home


def test_trainee_api_endpoints_refuse_other_roles(app, demo, api):
    assert api(account(demo, "trainee")["username"]).get("/me/classes").status_code == 200
    assert_json_error(api(account(demo, "staff")["username"]).get("/me/classes"), 403)
    assert_json_error(api(account(demo, "trainee")["username"]).get("/ledger/head"), 403)
    assert api(account(demo, "regulator")["username"]).get("/ledger/head").status_code == 200


# --- /users/<id> ---------------------------------------------------------------------------------------------


def refused_user(r, user_name):
    assert r.status_code in (403, 404), r.status_code
    assert r.get_json()["error"]["code"] in ("forbidden", "not_found")
    assert user_name not in r.get_data(as_text=True)


def test_trainee_cannot_read_another_trainee(app, demo, api):
    a, b = account(demo, "trainee", 0), account(demo, "trainee", 1)
    as_a = api(a["username"])
    assert as_a.get(f"/users/{a['user_id']}").status_code == 200
    refused_user(as_a.get(f"/users/{b['user_id']}"), b["name"])


def test_staff_reads_own_institution_trainee_not_others(app, demo, api, other_institution):
    t = account(demo, "trainee")
    staff = api(account(demo, "staff")["username"])
    r = staff.get(f"/users/{t['user_id']}")
    assert r.status_code == 200
    assert r.get_json()["name"] == t["name"] and r.get_json()["id_number"].count("*") == 8
    assert t["id_number"] not in r.get_data(as_text=True) and t["username"] not in r.get_data(as_text=True)
    # A registered trainee on none of the institution's classes is not the institution's to see.
    _, stranger = new_trainee(api)
    refused_user(staff.get(f"/users/{stranger}"), "测试学员")
    refused_user(api(other_institution["staff"]).get(f"/users/{t['user_id']}"), t["name"])


def test_regulator_reads_trainees_of_its_region_only(app, demo, api, other_institution):
    t = account(demo, "trainee")
    assert api(account(demo, "regulator")["username"]).get(f"/users/{t['user_id']}").status_code == 200
    refused_user(api(other_institution["regulator"]).get(f"/users/{t['user_id']}"), t["name"])


def test_unknown_user_is_not_found(app, demo, api):
    assert_json_error(api(account(demo, "admin")["username"]).get("/users/999999"), 404)


# --- CSRF ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app):
    """The app as deployed: CSRF checks on (Flask-WTF reads the switch at each request)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def form_token(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def csrf_login(app, username, password=PASSWORD):
    c = app.test_client()
    token = form_token(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return c


def test_login_form_without_csrf_token_is_400(csrf_app, demo):
    c = csrf_app.test_client()
    r = c.post("/login", data={"username": account(demo, "staff")["username"], "password": PASSWORD})
    assert r.status_code == 400
    assert "表单校验失败" in r.get_data(as_text=True)
    assert c.get("/staff/classes").status_code == 302  # not logged in
    # A wrong token is no better than none.
    c.get("/login")
    r = c.post("/login", data={"username": account(demo, "staff")["username"], "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    # With the page's token it works.
    assert csrf_login(csrf_app, account(demo, "staff")["username"]).get("/staff/classes").status_code == 200


def test_register_form_without_csrf_token_writes_nothing(csrf_app):
    c = csrf_app.test_client()
    data = register_payload(password2="Passw0rd1", face_consent="1")
    before = counts()
    with db.transaction() as s:
        users = s.scalar(select(func.count()).select_from(User))
    assert c.post("/register", data=data).status_code == 400
    assert counts() == before
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(User)) == users


def test_logout_and_class_form_need_the_csrf_token(csrf_app, demo):
    c = csrf_login(csrf_app, account(demo, "staff")["username"])
    before = counts()
    assert c.post(f"/classes/{class_id(demo)}", data={"id_number": make_id_number()}).status_code == 400
    assert counts() == before
    assert c.post("/logout").status_code == 400
    assert c.get("/staff/classes").status_code == 200  # still logged in
    token = form_token(c.get("/staff/classes").get_data(as_text=True))
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/staff/classes").status_code == 302


def test_cookie_api_post_needs_csrf_header_bearer_does_not(csrf_app, demo, api):
    staff = account(demo, "staff")
    roster = f"/api/v1/classes/{class_id(demo)}/roster"
    data1, _ = new_trainee(api)
    data2, _ = new_trainee(api)
    browser = csrf_login(csrf_app, staff["username"])
    before = counts()
    err = assert_json_error(browser.post(roster, json={"id_number": data1["id_number"]}), 400)
    assert err["code"] == "csrf_failed"
    assert counts() == before
    # Reads with the cookie need no token.
    assert browser.get(f"/api/v1/users/{account(demo, 'trainee')['user_id']}").status_code == 200
    # The page's token in X-CSRFToken makes the same request acceptable.
    token = form_token(browser.get("/staff/classes").get_data(as_text=True))
    r = browser.post(roster, json={"id_number": data1["id_number"]}, headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_json()
    # A bearer token is not sent by browsers on their own, so it needs no CSRF token.
    r = api(staff["username"]).post(f"/classes/{class_id(demo)}/roster", {"id_number": data2["id_number"]})
    assert r.status_code == 201, r.get_json()


# --- pages show masked numbers only ------------------------------------------------------------------------------


def whole_numbers(s):
    rows = s.execute(select(User.id_number, User.phone)).all()
    return [v for row in rows for v in row if v]


def test_pages_never_show_whole_id_numbers_or_phones(app, demo, api):
    # One more trainee on the roster, with an X check digit typed in lower case.
    body17 = next(b for b in (f"15010219930303{n:03d}" for n in range(1000)) if id_check_digit(b) == "X")
    r = api().post("/auth/register", register_payload(id_number=body17 + "x"))
    assert r.status_code == 201
    staff_api = api(account(demo, "staff")["username"])
    assert staff_api.post(f"/classes/{class_id(demo)}/roster", {"id_number": body17 + "x"}).status_code == 201
    with db.transaction() as s:
        secrets = whole_numbers(s)
        assert body17 + "X" in secrets
    pages = [
        (account(demo, "staff")["username"], f"/classes/{class_id(demo)}"),
        (account(demo, "staff")["username"], "/staff/classes"),
        (account(demo, "regulator")["username"], f"/classes/{class_id(demo)}"),
        (account(demo, "admin")["username"], "/admin/users"),
        (account(demo, "admin")["username"], f"/classes/{class_id(demo)}"),
        (account(demo, "trainee")["username"], "/account"),
        (account(demo, "trainee")["username"], "/learn"),
    ]
    for username, path in pages:
        html = web_login(app, username).get(path).get_data(as_text=True)
        for secret in secrets:
            assert secret not in html, (path, secret)
            assert secret.lower() not in html, (path, secret)
    roster = web_login(app, account(demo, "staff")["username"]).get(f"/classes/{class_id(demo)}").get_data(as_text=True)
    assert "150102********" in roster and "138****0001" in roster
    admin = web_login(app, account(demo, "admin")["username"]).get("/admin/users").get_data(as_text=True)
    assert "139****0001" in admin and f"150102********{body17[14:]}X" in admin


def test_an_id_no_row_can_have_is_not_found_on_every_route(app, demo, api):
    """An id beyond what the column holds (INTEGER on PostgreSQL, 64 bits on SQLite) fails the lookup itself: every
    <int:…> route answers 404 instead (405 just past the bound on a path whose other method matched first:
    Werkzeug's matcher), and the largest id a row can have reaches the view and gets an answer, not a 500."""
    from tracker.db import MAX_ID

    staff, web = api(account(demo, "staff")["username"]), web_login(app, account(demo, "staff")["username"])
    tried = 0
    for value, allowed in ((2 ** 70, {404}), (MAX_ID + 1, {404, 405}), (MAX_ID, None)):
        for rule in app.url_map.iter_rules():
            if "<int:" not in rule.rule:
                continue
            path = re.sub(r"<int:[^>]+>", str(value), rule.rule)
            path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "x", path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if path.startswith("/api/v1/"):
                    r = staff.call(method, path[len("/api/v1"):], {} if method != "GET" else None)
                else:
                    r = web.open(path, method=method)
                assert (r.status_code in allowed) if allowed else r.status_code < 500, (method, path, r.status_code)
                tried += 1
    assert tried > 120
    for path in ("/ledger/entries/{}/proof", "/ledger/checkpoints/{}"):  # BIGINT positions
        for value, status in ((2 ** 64, 404), (2 ** 63 - 1, 404), (2 ** 40, 404)):
            assert staff.get(path.format(value)).status_code == status, (path, value)


@pytest.mark.parametrize("role, path, body, status", [
    ("trainee", "/sessions", {"chapter_id": 2 ** 40}, 404),
    ("staff", "/classes/{class_id}/certificates", {"trainee_id": 2 ** 40}, 404),
    ("staff", "/classes/{class_id}/certificates", {"trainee_id": -2 ** 62}, 404),
    ("staff", "/courses/1/questions", {"type": "truefalse", "text": "题", "key": True, "score": 1, "chapter_id": 2 ** 40}, 400),
    ("regulator", "/regulator/samples", {"kind": "trainees", "n": 1, "region_code": [None]}, 400),
    ("regulator", "/regulator/samples", {"kind": "trainees", "n": 1, "region_code": "１５０１００"}, 400),
])
def test_ids_and_codes_in_a_body_that_no_row_can_have_are_refused_not_a_500(app, demo, api, role, path, body, status):
    r = api(account(demo, role)["username"]).post(path.format(class_id=class_id(demo)), body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["message"]
