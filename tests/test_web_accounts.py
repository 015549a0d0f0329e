"""The register, login and logout pages."""
import re

import pytest
from sqlalchemy import func, select

from models import LedgerEntry, User
from tracker.accounts.rules import CATEGORIES, FACE_CONSENT_TEXT
from tracker.extensions import db

from tests.conftest import register_payload


CJK = re.compile(r"[\u4e00-\u9fff]")


def error_text(html):
    m = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    assert m, "no error shown"
    return m.group(1)


def counts():
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(LedgerEntry)))


def form(**over):
    data = register_payload(face_consent="1")
    data["password2"] = data["password"]
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_register_page_is_chinese_with_every_category_and_the_consent(app, client):
    r = client.get("/register")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "学员实名注册" in html and "身份证号码" in html and "手机号码" in html
    for cat in CATEGORIES:
        assert f">{cat}</option>" in html
    assert FACE_CONSENT_TEXT in html
    assert 'name="face_consent"' in html and "checked" not in html  # consent is never pre-ticked


@pytest.mark.parametrize("over,message", [
    ({"id_number": "11010519491231002" + "1"}, "校验位"),
    ({"id_number": "12345"}, "18位"),
    ({"phone": "12345"}, "手机号码应为11位"),
    ({"category": "学生"}, "身份类别不在规定范围内"),
    ({"password": "short", "password2": "short"}, "密码至少8位"),
    ({"password2": "Different1"}, "两次输入的密码不一致"),
    ({"face_consent": None}, "人脸信息处理"),
    ({"name": ""}, "请填写"),
])
def test_register_with_bad_input_shows_a_chinese_error_and_writes_nothing(app, client, over, message):
    data = form(**over)
    before = counts()
    r = client.post("/register", data=data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    error = error_text(html)
    assert message in error and CJK.search(error), error
    assert counts() == before
    # What was typed is kept (except passwords), so that the trainee only corrects the mistake.
    if data.get("employer"):
        assert data["employer"] in html
    assert f'value="{data["password"]}"' not in html
    # Still logged out.
    assert client.get("/learn").status_code == 302


def test_register_duplicate_id_number_on_the_page(app, client, api):
    first = register_payload()
    assert api().post("/auth/register", first).status_code == 201
    before = counts()
    r = client.post("/register", data=form(id_number=first["id_number"].lower()))
    assert r.status_code == 400 and "已注册" in error_text(r.get_data(as_text=True))
    assert counts() == before


def test_register_valid_logs_in_and_redirects(app, client):
    data = form()
    before = counts()
    r = client.post("/register", data=data)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    users, entries = counts()
    assert users == before[0] + 1 and entries == before[1] + 2  # account.registered, consent.face
    assert client.get("/").headers["Location"] == "/learn"
    page = client.get("/learn")
    assert page.status_code == 200 and data["name"] in page.get_data(as_text=True)
    account = client.get("/account").get_data(as_text=True)
    assert data["id_number"][:6] + "********" + data["id_number"][-4:] in account
    assert data["id_number"] not in account and data["phone"] not in account


def test_login_page(app, client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "登录" in html and "身份证号或手机号" in html and "/register" in html


def test_login_wrong_password_shows_error(app, client, api):
    data = register_payload()
    api().post("/auth/register", data)
    r = client.post("/login", data={"username": data["phone"], "password": "Wrong1234"})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "账号或密码错误" in error_text(html) and data["phone"] in html  # the typed name is kept in the form
    assert client.get("/account").status_code == 302


def test_login_missing_fields(app, client):
    r = client.post("/login", data={})
    assert r.status_code == 400 and "请输入账号和密码" in error_text(r.get_data(as_text=True))


def test_login_then_logout(app, client, api):
    data = register_payload()
    api().post("/auth/register", data)
    r = client.post("/login", data={"username": data["id_number"], "password": data["password"]})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/account").status_code == 200
    r = client.post("/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/account").status_code == 302
    assert client.get("/").headers["Location"] == "/login"


@pytest.mark.parametrize("target,expected", [("/account", "/account"), ("//evil.example/x", "/"),
                                             ("https://evil.example/", "/"), ("", "/"), ("/\\evil.example/x", "/"),
                                             ("/\t/evil.example/x", "/"), ("\\\\evil.example", "/"),
                                             ("javascript:alert(1)", "/")])
def test_login_next_stays_on_this_site(app, client, api, target, expected):
    data = register_payload()
    api().post("/auth/register", data)
    r = client.post("/login", data={"username": data["phone"], "password": data["password"], "next": target})
    assert r.status_code == 302 and r.headers["Location"] == expected


def test_password_change_ends_old_browser_sessions(app, client, api):
    from werkzeug.security import generate_password_hash

    data = register_payload()
    user_id = api().post("/auth/register", data).get_json()["user_id"]
    client.post("/login", data={"username": data["phone"], "password": data["password"]})
    assert client.get("/account").status_code == 200
    with db.transaction() as s:
        s.get(User, user_id).password_hash = generate_password_hash("Another123", method="scrypt:1024:8:1")
    assert client.get("/account").status_code == 302


def test_deactivated_user_session_ends(app, client, api):
    data = register_payload()
    user_id = api().post("/auth/register", data).get_json()["user_id"]
    client.post("/login", data={"username": data["phone"], "password": data["password"]})
    with db.transaction() as s:
        s.get(User, user_id).is_active = False
    assert client.get("/account").status_code == 302
    r = client.post("/login", data={"username": data["phone"], "password": data["password"]})
    assert r.status_code == 400


def test_error_pages_are_html_in_chinese(app, client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "未找到" in r.get_data(as_text=True)
