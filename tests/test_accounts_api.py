"""The accounts API: registration, tokens, /me, the error contract, throttling and token validity."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from models import ApiToken, LedgerEntry, LoginAttempt, User
from tracker.accounts.rules import id_check_digit, mask_id_number, mask_phone
from tracker.extensions import db

from tests.conftest import make_id_number, register_payload

CJK = re.compile(r"[\u4e00-\u9fff]")


def counts():
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(LedgerEntry)))


def assert_error(r, status=None, code=None):
    """The error contract: a 4xx with {"error": {"code", "message"}}, the message in Chinese."""
    assert 400 <= r.status_code < 500, (r.status_code, r.data[:300])
    if status is not None:
        assert r.status_code == status, r.get_json()
    assert r.is_json, r.data[:300]
    err = r.get_json()["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and CJK.search(err["message"]), err
    if code is not None:
        assert err["code"] == code, err
    return err


def body_ending_in_x(born):
    """A 17-digit body born on `born` whose check digit is X."""
    return next(b for b in (f"150102{born}{n:03d}" for n in range(1000)) if id_check_digit(b) == "X")


def register(api, **over):
    data = register_payload(**over)
    r = api().post("/auth/register", data)
    assert r.status_code == 201, r.get_json()
    return data, r.get_json()["user_id"]


# --- register, log in, /me ---------------------------------------------------------------------------


def test_register_login_me_is_masked(app, api):
    data, user_id = register(api)
    assert isinstance(user_id, int)
    me = api(data["id_number"], data["password"]).get("/me")
    assert me.status_code == 200
    body = me.get_json()
    assert body["user_id"] == user_id and body["role"] == "trainee" and body["name"] == data["name"]
    assert body["id_number"] == mask_id_number(data["id_number"]) and "*" in body["id_number"]
    assert body["phone"] == mask_phone(data["phone"])
    assert body["category"] == data["category"]
    assert body["face_consent"]["version"] and body["face_consent"]["at"]
    # Neither whole number appears anywhere in the answer.
    assert data["id_number"].encode() not in me.data and data["phone"].encode() not in me.data


def test_login_by_phone_and_by_lower_case_id(app, api):
    body17 = "15010219880808123"
    idn = body17 + id_check_digit(body17)
    data, user_id = register(api, id_number=idn)
    for username in (data["phone"], idn, idn.lower(), f"  {idn} "):
        r = api().post("/auth/token", {"username": username, "password": data["password"]})
        assert r.status_code == 200, (username, r.get_json())
        assert r.get_json()["user_id"] == user_id and r.get_json()["token"]


def test_lower_case_x_is_stored_upper_case(app, api):
    body17 = body_ending_in_x("19900101")
    data, user_id = register(api, id_number=body17 + "x")
    with db.transaction() as s:
        assert s.get(User, user_id).id_number == body17 + "X"


def test_registration_cannot_choose_its_role_or_attachments(app, api):
    """Self-registration always makes a trainee, whatever else the body says."""
    data, user_id = register(api, role="admin", institution_id=1, region_code="150000", is_active=False, id=999)
    with db.transaction() as s:
        user = s.get(User, user_id)
        assert (user.role, user.institution_id, user.region_code, user.is_active) == ("trainee", None, None, True)
    assert user_id != 999


def test_token_answer_shape(app, api):
    data, user_id = register(api)
    r = api().post("/auth/token", {"username": data["phone"], "password": data["password"]})
    body = r.get_json()
    assert body["role"] == "trainee" and body["expires_in"] > 0 and len(body["token"]) >= 32


# --- duplicates and consent --------------------------------------------------------------------------


def test_duplicate_id_number_is_refused_with_a_clear_message(app, api):
    data, _ = register(api)
    before = counts()
    r = api().post("/auth/register", register_payload(id_number=data["id_number"]))
    err = assert_error(r, code="duplicate_id_number")
    assert "已注册" in err["message"]
    assert counts() == before


def test_duplicate_id_number_differing_only_in_the_case_of_x(app, api):
    body17 = body_ending_in_x("19850101")
    register(api, id_number=body17 + "X")
    before = counts()
    err = assert_error(api().post("/auth/register", register_payload(id_number=body17 + "x")), code="duplicate_id_number")
    assert "已注册" in err["message"]
    assert counts() == before
    # And the other way round.
    body17b = body_ending_in_x("19860101")
    register(api, id_number=body17b + "x")
    assert_error(api().post("/auth/register", register_payload(id_number=body17b + "X")), code="duplicate_id_number")


def test_duplicate_phone_is_refused(app, api):
    data, _ = register(api)
    before = counts()
    err = assert_error(api().post("/auth/register", register_payload(phone=data["phone"])), code="duplicate_phone")
    assert "手机号" in err["message"]
    assert counts() == before


@pytest.mark.parametrize("consent", [False, None, "no", "false", 0, "", [], {}])
def test_registration_without_face_consent_is_refused(app, api, consent):
    before = counts()
    payload = register_payload(face_consent=consent)
    if consent is None:
        del payload["face_consent"]
    err = assert_error(api().post("/auth/register", payload), 400, "consent_required")
    assert "人脸" in err["message"]
    assert counts() == before


# --- every kind of bad input: 4xx, the error body, nothing written -------------------------------------

BAD_BODIES = {
    # missing fields
    **{f"missing {k}": {"drop": k} for k in ("name", "id_number", "phone", "category", "employer", "password")},
    **{f"empty {k}": {k: ""} for k in ("name", "id_number", "phone", "category", "employer", "password")},
    "blank name": {"name": "   "},
    # wrong types
    "number for name": {"name": 12345},
    "list for id_number": {"id_number": [make_id_number()]},
    "number for id_number": {"id_number": 150102199001010011},
    "number for phone": {"phone": 13912345678},
    "list for category": {"category": ["企业职工"]},
    "object for employer": {"employer": {"name": "测试企业"}},
    "number for password": {"password": 123456789},
    "bool for name": {"name": True},
    # over-long strings
    "name too long": {"name": "张" * 51},
    "employer too long": {"employer": "企" * 101},
    "password too long": {"password": "Aa1" * 50},
    "id_number too long": {"id_number": make_id_number() + "0"},
    "phone too long": {"phone": "139123456789"},
    "huge name": {"name": "张" * 100_000},
    # control characters (PostgreSQL refuses NUL outright)
    "NUL in name": {"name": "张\x00三"},
    "NUL in employer": {"employer": "测试\x00企业"},
    "bell in name": {"name": "张\x07三"},
    "NUL in id_number": {"id_number": "\x00" + make_id_number()[1:]},
    "NUL in phone": {"phone": "139\x0012345678"},
    "NUL in category": {"category": "企业职工\x00"},
    # bad ID numbers
    "wrong check digit": {"id_number": "11010519491231002" + "1"},
    "Feb 30": {"id_number": "15010219900230001" + id_check_digit("15010219900230001")},
    "born in the future": {"id_number": "15010221000101001" + id_check_digit("15010221000101001")},
    "born before 1900": {"id_number": "15010218991231001" + id_check_digit("15010218991231001")},
    "bad region": {"id_number": "99010219900101001" + id_check_digit("99010219900101001")},
    "letters in ID": {"id_number": "15010219900101001A"},
    # other fields
    "bad phone": {"phone": "12345678901"},
    "unknown category": {"category": "学生"},
    "weak password (short)": {"password": "Ab1"},
    "weak password (no digit)": {"password": "Password"},
    "weak password (no letter)": {"password": "123456789"},
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_registration_is_refused_and_writes_nothing(app, api, case):
    change = dict(BAD_BODIES[case])
    payload = register_payload()
    if "drop" in change:
        del payload[change.pop("drop")]
    payload.update(change)
    before = counts()
    assert_error(api().post("/auth/register", payload))
    assert counts() == before


@pytest.mark.parametrize("raw", [b'{"name": "x", ', b"not json at all", b"[1, 2, 3]", b'"a string"', b"null", b"",
                                 b"\xff\xfe\x00garbage"], ids=["truncated", "text", "array", "string", "null", "empty", "binary"])
def test_malformed_json_registration(app, client, raw):
    before = counts()
    assert_error(client.post("/api/v1/auth/register", data=raw, content_type="application/json"), 400, "malformed_json")
    assert counts() == before


@pytest.mark.parametrize("kind", ["form", "text/plain", "none"])
def test_non_json_registration(app, client, kind):
    """A well-formed registration sent as something other than application/json is refused (415)."""
    payload = register_payload()
    if kind == "form":
        kw = {"data": payload}
    elif kind == "text/plain":
        kw = {"data": json.dumps(payload), "content_type": "text/plain"}
    else:
        kw = {"data": json.dumps(payload).encode()}
    before = counts()
    assert_error(client.post("/api/v1/auth/register", **kw), 415, "json_required")
    assert counts() == before


# --- login: failures and throttling ---------------------------------------------------------------------


def test_wrong_password_is_login_failed(app, api):
    data, _ = register(api)
    err = assert_error(api().post("/auth/token", {"username": data["phone"], "password": "Wrong1234"}), 400, "login_failed")
    # An unknown account gets the same answer, so that accounts cannot be probed.
    err2 = assert_error(api().post("/auth/token", {"username": "13311112222", "password": "Wrong1234"}), 400, "login_failed")
    assert err["message"] == err2["message"]


@pytest.mark.parametrize("body", [{}, {"username": "13900000001"}, {"password": "x"}, {"username": ["a"], "password": "b"},
                                  {"username": "a", "password": 5}, {"username": "", "password": ""}])
def test_login_with_missing_or_wrong_type_fields(app, api, body):
    assert_error(api().post("/auth/token", body), 400)


@pytest.mark.parametrize("username", ["139\x0012345678", "\x00", "15010219900101001\x00"])
def test_login_with_control_characters_is_refused(app, api, client, username):
    assert_error(api().post("/auth/token", {"username": username, "password": "Passw0rd1"}), 400, "login_failed")
    r = client.post("/login", data={"username": username, "password": "Passw0rd1"})
    assert r.status_code == 400


def test_login_non_json_is_refused(app, client):
    assert_error(client.post("/api/v1/auth/token", data={"username": "a", "password": "b"}), 415, "json_required")


def test_login_is_throttled_after_max_failures(app, api):
    app.config["TRACKER_LOGIN_MAX_FAILURES"] = 3
    data, _ = register(api)
    other, _ = register(api)
    for _ in range(3):
        assert_error(api().post("/auth/token", {"username": data["phone"], "password": "Wrong1234"}), 400, "login_failed")
    # Now even the right password is refused.
    err = assert_error(api().post("/auth/token", {"username": data["phone"], "password": data["password"]}),
                       429, "too_many_attempts")
    assert "分钟" in err["message"]
    # Another account from the same address is not locked out by these few failures.
    assert api().post("/auth/token", {"username": other["phone"], "password": other["password"]}).status_code == 200
    # The window passing frees the account: age the failures.
    with db.transaction() as s:
        s.execute(update(LoginAttempt).values(at=datetime.now(timezone.utc) - timedelta(seconds=app.config["TRACKER_LOGIN_WINDOW"] + 5)))
    assert api().post("/auth/token", {"username": data["phone"], "password": data["password"]}).status_code == 200


def test_throttling_counts_the_account_not_the_way_it_was_typed(app, api):
    """Failures under the phone and under the ID number are failures of one account."""
    app.config["TRACKER_LOGIN_MAX_FAILURES"] = 3
    data, _ = register(api)
    for username in (data["phone"], data["id_number"], data["id_number"].lower()):
        assert_error(api().post("/auth/token", {"username": username, "password": "Wrong1234"}), 400, "login_failed")
    for username in (data["phone"], data["id_number"]):
        assert_error(api().post("/auth/token", {"username": username, "password": data["password"]}), 429, "too_many_attempts")


def test_a_successful_login_clears_the_accounts_failures(app, api):
    app.config["TRACKER_LOGIN_MAX_FAILURES"] = 3
    data, _ = register(api)
    for _ in range(2):
        api().post("/auth/token", {"username": data["id_number"], "password": "Wrong1234"})
    assert api().post("/auth/token", {"username": data["phone"], "password": data["password"]}).status_code == 200
    for _ in range(2):
        api().post("/auth/token", {"username": data["phone"], "password": "Wrong1234"})
    assert api().post("/auth/token", {"username": data["phone"], "password": data["password"]}).status_code == 200


def test_throttled_web_login_too(app, api, client):
    app.config["TRACKER_LOGIN_MAX_FAILURES"] = 2
    data, _ = register(api)
    for _ in range(2):
        assert client.post("/login", data={"username": data["phone"], "password": "Wrong1234"}).status_code == 400
    r = client.post("/login", data={"username": data["phone"], "password": data["password"]})
    assert r.status_code == 429
    assert "登录失败次数过多" in r.get_data(as_text=True)


# --- tokens ----------------------------------------------------------------------------------------------


def test_token_of_a_deactivated_user_is_refused(app, api):
    data, user_id = register(api)
    me = api(data["phone"], data["password"])
    assert me.get("/me").status_code == 200
    with db.transaction() as s:
        s.get(User, user_id).is_active = False
    assert_error(me.get("/me"), 401, "unauthorized")
    # Nor can the user get a new one.
    assert_error(api().post("/auth/token", {"username": data["phone"], "password": data["password"]}), 400, "login_failed")


def test_expired_token_is_refused(app, api):
    data, user_id = register(api)
    me = api(data["phone"], data["password"])
    assert me.get("/me").status_code == 200
    with db.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.user_id == user_id)
                  .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert_error(me.get("/me"), 401, "unauthorized")


def test_revoked_token_is_refused(app, api):
    data, user_id = register(api)
    me = api(data["phone"], data["password"])
    with db.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.user_id == user_id).values(revoked=True))
    assert_error(me.get("/me"), 401, "unauthorized")


def test_token_ttl_from_config(app, api):
    app.config["TRACKER_TOKEN_TTL"] = -1
    data, _ = register(api)
    r = api().post("/auth/token", {"username": data["phone"], "password": data["password"]})
    token = r.get_json()["token"]
    assert_error(api().client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x", "Token abc"])
def test_bad_authorization_headers_are_refused(app, client, header):
    assert_error(client.get("/api/v1/me", headers={"Authorization": header}), 401, "unauthorized")


def test_tokens_are_stored_only_as_digests(app, api):
    data, user_id = register(api)
    token = api(data["phone"], data["password"]).token
    with db.transaction() as s:
        stored = s.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user_id)).all()
    assert stored and token not in stored


# --- the error contract on unknown routes, and the OpenAPI document ------------------------------------------


def test_unknown_api_route_and_wrong_method_answer_json_errors(app, client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(client.get("/api/v1/auth/register"), 405, "method_not_allowed")


FOUNDATION_PATHS = {
    "/auth/register": "post", "/auth/token": "post", "/me": "get", "/me/classes": "get", "/users/{user_id}": "get",
    "/classes/{class_id}/roster": "post", "/ledger/head": "get", "/openapi.json": "get",
}


def test_openapi_lists_the_documented_paths(app, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.") and doc["servers"] == [{"url": "/api/v1"}]
    for path, method in FOUNDATION_PATHS.items():
        assert method in doc["paths"].get(path, {}), path
    reg = doc["paths"]["/auth/register"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(reg["required"]) == {"name", "id_number", "phone", "category", "employer", "password", "face_consent"}
    assert doc["components"]["schemas"]["Error"]["properties"]["error"]["required"] == ["code", "message"]


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, missing


def test_passwords_are_stored_as_scrypt_hashes(app, api):
    from tests.conftest import PRODUCTION_PASSWORD_METHOD

    # Tests use cheaper scrypt parameters (conftest); production uses werkzeug's full-cost default.
    assert PRODUCTION_PASSWORD_METHOD == "scrypt"
    data, user_id = register(api)
    with db.transaction() as s:
        stored = s.get(User, user_id).password_hash
    assert stored.startswith("scrypt:") and data["password"] not in stored


@pytest.mark.parametrize("same", ["id_number", "phone"])
def test_concurrent_duplicate_registrations_give_one_account_and_clear_refusals(app, same):
    """Both requests pass the uniqueness check before either writes; the database decides, never a 500."""
    import threading

    threads = 6
    first = register_payload()
    payloads = [register_payload(**{same: first[same]}) for _ in range(threads)]
    barrier, answers = threading.Barrier(threads), []

    def post(p):
        client = app.test_client()
        barrier.wait()
        r = client.post("/api/v1/auth/register", json=p)
        answers.append((r.status_code, r.get_json()))

    pool = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [400] * (threads - 1), answers
    assert {body["error"]["code"] for status, body in answers if status != 201} == {f"duplicate_{same}"}
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(User).where(getattr(User, same) == first[same])) == 1
