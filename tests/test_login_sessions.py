"""Server-side login sessions and API tokens: logout ends them, a copied cookie is refused, tokens can be listed
and revoked by their owner only, and the Socket.IO namespaces apply the same check to the browser's cookie."""
import re

from sqlalchemy import select

from tracker.extensions import db, socketio

from tests.conftest import register_payload


def register(api):
    data = register_payload()
    r = api().post("/auth/register", data)
    assert r.status_code == 201, r.get_json()
    return data, r.get_json()["user_id"]


def browser(app, data):
    c = app.test_client()
    r = c.post("/login", data={"username": data["phone"], "password": data["password"]}, headers={"User-Agent": "TestBrowser/1.0"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c


def copy_cookie(c):
    return c.get_cookie("session").value


def replay(app, cookie):
    """Another browser that presents a copy of the cookie."""
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c


def login_session_rows(user_id):
    from models import LoginSession

    with db.transaction() as s:
        return s.scalars(select(LoginSession).where(LoginSession.user_id == user_id).order_by(LoginSession.id)).all()


def test_a_cookie_copied_before_logout_is_refused_afterwards(app, api):
    data, _ = register(api)
    c = browser(app, data)
    assert c.get("/account").status_code == 200
    cookie = copy_cookie(c)
    assert replay(app, cookie).get("/account").status_code == 200  # the copy works while the session lives
    assert c.post("/logout").status_code == 302
    assert c.get("/account").status_code == 302
    # The signed cookie is still well-formed, but its server-side session has ended.
    assert replay(app, cookie).get("/account").status_code == 302
    assert replay(app, cookie).get("/api/v1/me").status_code == 401


def test_login_sessions_store_only_a_digest_and_logout_revokes_the_row(app, api):
    data, user_id = register(api)
    c = browser(app, data)
    rows = login_session_rows(user_id)
    assert len(rows) == 1 and rows[0].revoked_at is None and rows[0].user_agent == "TestBrowser/1.0"
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    sid = serializer.loads(copy_cookie(c))["sid"]
    assert len(rows[0].session_hash) == 64 and sid not in rows[0].session_hash
    c.post("/logout")
    assert login_session_rows(user_id)[0].revoked_at is not None


def test_logging_in_twice_gives_two_sessions_and_logging_out_of_one_keeps_the_other(app, api):
    data, _ = register(api)
    a, b = browser(app, data), browser(app, data)
    a.post("/logout")
    assert a.get("/account").status_code == 302
    assert b.get("/account").status_code == 200


def test_account_page_lists_sessions_and_revoking_another_device_logs_it_out(app, api):
    data, user_id = register(api)
    phone, pc = browser(app, data), browser(app, data)
    html = pc.get("/account").get_data(as_text=True)
    assert "登录设备" in html and "本设备" in html and "TestBrowser/1.0" in html
    ids = [int(x) for x in re.findall(r'data-session-id="(\d+)"', html)]
    assert len(ids) == 2
    phone_id = login_session_rows(user_id)[0].id
    r = pc.post(f"/account/sessions/{phone_id}/revoke")
    assert r.status_code == 302
    assert phone.get("/account").status_code == 302
    assert pc.get("/account").status_code == 200


def test_nobody_revokes_another_users_session(app, api):
    data, user_id = register(api)
    other, _ = register(api)
    victim = browser(app, data)
    attacker = browser(app, other)
    victim_session = login_session_rows(user_id)[0].id
    assert attacker.post(f"/account/sessions/{victim_session}/revoke").status_code == 404
    assert api(other["phone"], other["password"]).call("DELETE", f"/me/sessions/{victim_session}").status_code == 404
    assert victim.get("/account").status_code == 200


def test_api_logout_revokes_the_bearer_token_used(app, api):
    data, _ = register(api)
    first, second = api(data["phone"], data["password"]), api(data["phone"], data["password"])
    r = first.post("/auth/logout")
    assert r.status_code == 200 and r.get_json() == {"ended": "token"}
    assert first.get("/me").status_code == 401
    assert second.get("/me").status_code == 200  # only the token used


def test_api_logout_with_the_cookie_ends_the_browser_session(app, api):
    data, _ = register(api)
    c = browser(app, data)
    cookie = copy_cookie(c)
    assert c.post("/api/v1/auth/logout").get_json()["error"]["code"] == "csrf_failed"  # a cookie write needs the token
    token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/account").get_data(as_text=True)).group(1)
    r = c.post("/api/v1/auth/logout", headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json() == {"ended": "session"}
    assert replay(app, cookie).get("/api/v1/me").status_code == 401


def test_me_tokens_lists_own_tokens_without_secrets(app, api):
    data, user_id = register(api)
    me = api(data["phone"], data["password"])
    other = api(data["phone"], data["password"])
    stranger_data, _ = register(api)
    api(stranger_data["phone"], stranger_data["password"])
    r = me.get("/me/tokens")
    assert r.status_code == 200
    tokens = r.get_json()["tokens"]
    assert len(tokens) == 2
    assert {t["current"] for t in tokens} == {True, False}
    for t in tokens:
        assert set(t) == {"token_id", "created_at", "expires_at", "last_used_at", "current"}
    body = r.get_data(as_text=True)
    assert me.token not in body and other.token not in body
    from models import ApiToken

    with db.transaction() as s:
        hashes = s.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user_id)).all()
    assert not any(h in body for h in hashes)
    current = next(t for t in tokens if t["current"])
    assert current["last_used_at"] is not None  # this very request used it


def test_a_trainee_revokes_their_own_token_and_not_anothers(app, api):
    data, _ = register(api)
    me, lost_phone = api(data["phone"], data["password"]), api(data["phone"], data["password"])
    stranger_data, _ = register(api)
    stranger = api(stranger_data["phone"], stranger_data["password"])
    mine = {t["current"]: t["token_id"] for t in me.get("/me/tokens").get_json()["tokens"]}
    strangers = stranger.get("/me/tokens").get_json()["tokens"][0]["token_id"]
    # Another user's token id is a 404, exactly like one that does not exist; their token keeps working.
    r = me.call("DELETE", f"/me/tokens/{strangers}")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert stranger.get("/me").status_code == 200
    r = me.call("DELETE", f"/me/tokens/{mine[False]}")
    assert r.status_code == 200 and r.get_json() == {"token_id": mine[False], "revoked": True}
    assert lost_phone.get("/me").status_code == 401
    assert me.get("/me").status_code == 200
    assert [t["token_id"] for t in me.get("/me/tokens").get_json()["tokens"]] == [mine[True]]
    assert me.call("DELETE", f"/me/tokens/{mine[False]}").status_code == 404  # already revoked


def test_account_page_lists_tokens_and_revokes_one(app, api):
    data, _ = register(api)
    phone_app = api(data["phone"], data["password"])
    c = browser(app, data)
    html = c.get("/account").get_data(as_text=True)
    assert "访问令牌（1）" in html and phone_app.token not in html
    token_id = int(re.search(r'data-token-id="(\d+)"', html).group(1))
    assert c.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert phone_app.get("/me").status_code == 401
    assert "已撤销该访问令牌" in c.get("/account?done=token").get_data(as_text=True)


def test_revoke_forms_need_the_csrf_token(app, api):
    app.config["WTF_CSRF_ENABLED"] = True
    data, _ = register(api)
    phone_app = api(data["phone"], data["password"])
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    c.post("/login", data={"username": data["phone"], "password": data["password"], "csrf_token": token})
    token_id = phone_app.get("/me/tokens").get_json()["tokens"][0]["token_id"]
    assert c.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert c.open(f"/api/v1/me/tokens/{token_id}", method="DELETE").status_code == 400
    assert phone_app.get("/me").status_code == 200


def test_socket_connect_refuses_a_cookie_whose_session_ended(app, demo):
    trainee = next(a for a in demo["accounts"] if a["role"] == "trainee")
    c = app.test_client()
    assert c.post("/login", data={"username": trainee["username"], "password": trainee["password"]}).status_code == 302
    cookie = copy_cookie(c)
    sock = socketio.test_client(app, namespace="/learn", flask_test_client=replay(app, cookie))
    assert sock.is_connected("/learn")
    sock.disconnect("/learn")
    c.post("/logout")
    for ns in ("/learn", "/qa"):
        assert not socketio.test_client(app, namespace=ns, flask_test_client=replay(app, cookie)).is_connected(ns)


def test_sessions_idle_too_long_end(app, api):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from models import LoginSession

    data, user_id = register(api)
    c = browser(app, data)
    with db.transaction() as s:
        s.execute(update(LoginSession).where(LoginSession.user_id == user_id).values(
            last_seen_at=datetime.now(timezone.utc) - timedelta(seconds=app.config["TRACKER_SESSION_IDLE"] + 1)))
    assert c.get("/account").status_code == 302


def test_user_agents_are_summarised_for_the_account_page():
    from tracker.accounts.credentials import user_agent_short

    android = "Mozilla/5.0 (Linux; Android 13; PGT-AN10) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
    wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.4"
    assert user_agent_short(android) == "Chrome · Android"
    assert user_agent_short(wechat) == "微信 · iPhone"
    assert user_agent_short("curl/8.0\x00") == "curl/8.0" and user_agent_short("") is None
    assert len(user_agent_short("x" * 500)) == 120
