"""The `tracker` command line: init-db, demo, create-user."""
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Institution, LedgerEntry, User
from tracker.extensions import db

from tests.conftest import make_id_number


def counts():
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(LedgerEntry)))


@pytest.fixture
def no_video(monkeypatch):
    """The demo's chapter videos as empty files: the CLI's behaviour, not OpenCV's, is under test here."""
    from tracker import demo as demo_mod

    monkeypatch.setattr(demo_mod, "render_chapter_video", lambda path, title, seconds, **kw: Path(path).write_bytes(b"\0"))


@pytest.fixture
def institution(app):
    with db.transaction() as s:
        inst = Institution(name="测试职业培训学校", region_code="150102")
        s.add(inst)
        s.flush()
        return inst.id


# --- init-db --------------------------------------------------------------------------------------------------


def test_init_db_is_idempotent(app, runner):
    before = counts()
    for _ in range(2):
        r = runner.invoke(args=["init-db"])
        assert r.exit_code == 0, r.output
        assert "database ready" in r.output
    assert counts() == before
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


def test_init_db_keeps_existing_data(app, runner, no_video):
    assert runner.invoke(args=["demo"]).exit_code == 0
    before = counts()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert counts() == before
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


# --- demo -------------------------------------------------------------------------------------------------------


def test_demo_is_idempotent(app, runner, no_video):
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    assert "演示账号" in r.output and "13900000001" in r.output and "Demo1234" in r.output
    first = counts()
    assert first[0] == 6
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    assert counts() == first  # no new users, no new ledger entries
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


def test_demo_json_shape(app, runner, no_video, api):
    r = runner.invoke(args=["demo", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert {a["role"] for a in info["accounts"]} == {"trainee", "staff", "regulator", "admin"}
    for a in info["accounts"]:
        assert isinstance(a["username"], str) and isinstance(a["password"], str) and isinstance(a["user_id"], int)
    assert info["classes"]
    for c in info["classes"]:
        assert isinstance(c["class_id"], int) and isinstance(c["institution_id"], int)
        assert c["chapters"]
        for ch in c["chapters"]:
            assert isinstance(ch["chapter_id"], int) and isinstance(ch["seconds"], int) and ch["seconds"] > 0
    # The printed logins work.
    for a in info["accounts"]:
        assert api(a["username"], a["password"]).get("/me").get_json()["user_id"] == a["user_id"]
    # Loading again prints the same thing.
    again = runner.invoke(args=["demo", "--json"])
    assert json.loads(again.stdout) == info


def test_demo_json_matches_the_loaded_demo(app, runner, demo):
    assert json.loads(runner.invoke(args=["demo", "--json"]).stdout) == demo


# --- create-user --------------------------------------------------------------------------------------------------


def create(runner, *args):
    return runner.invoke(args=["create-user", "--password", "Strong123", *args])


def created(r):
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    with db.transaction() as s:
        user = s.get(User, out["user_id"])
        s.expunge(user)
    assert user.role == out["role"]
    return user


def test_create_trainee(app, runner):
    idn = make_id_number()
    user = created(create(runner, "--role", "trainee", "--name", "学员甲", "--id-number", idn.lower(), "--category", "退役军人",
                          "--phone", "13612345678", "--employer", "某公司"))
    assert (user.id_number, user.category, user.phone, user.institution_id, user.region_code) == \
        (idn.upper(), "退役军人", "13612345678", None, None)


def test_create_staff(app, runner, institution):
    user = created(create(runner, "--role", "staff", "--name", "机构老师", "--phone", "13612345679",
                          "--institution-id", str(institution)))
    assert user.institution_id == institution and user.region_code is None


def test_create_regulator(app, runner):
    user = created(create(runner, "--role", "regulator", "--name", "人社科长", "--phone", "13612345670", "--region-code", "150100"))
    assert user.region_code == "150100" and user.institution_id is None


def test_create_admin(app, runner, api):
    user = created(create(runner, "--role", "admin", "--name", "管理员", "--phone", "13612345671"))
    assert user.role == "admin"
    assert api("13612345671", "Strong123").get("/me").get_json()["role"] == "admin"


def test_created_users_are_in_the_ledger(app, runner, institution):
    user = created(create(runner, "--role", "staff", "--name", "机构老师", "--phone", "13612345679",
                          "--institution-id", str(institution)))
    with db.transaction() as s:
        kinds = [(e.kind, e.actor_id) for e in s.scalars(select(LedgerEntry).where(LedgerEntry.subject_id == user.id))]
        grant = json.loads(s.scalar(select(LedgerEntry.payload).where(LedgerEntry.kind == "role.granted")))
    assert kinds == [("account.created", None), ("role.granted", None)]
    assert grant == {"user_id": user.id, "role": "staff", "institution_id": institution, "region_code": None}


@pytest.mark.parametrize("args,message", [
    (["--role", "staff", "--name", "甲", "--phone", "13612340001"], "培训机构"),
    (["--role", "staff", "--name", "甲", "--phone", "13612340001", "--institution-id", "999999"], "培训机构"),
    (["--role", "regulator", "--name", "甲", "--phone", "13612340001"], "行政区划"),
    (["--role", "regulator", "--name", "甲", "--phone", "13612340001", "--region-code", "1501"], "行政区划"),
    (["--role", "regulator", "--name", "甲", "--phone", "13612340001", "--region-code", "15010a"], "行政区划"),
    (["--role", "regulator", "--name", "甲", "--phone", "13612340001", "--region-code", "1501000"], "行政区划"),
    (["--role", "trainee", "--name", "甲", "--phone", "13612340001", "--category", "企业职工"], "身份证"),
    (["--role", "trainee", "--name", "甲", "--id-number", "150102199001010010", "--category", "企业职工"], "身份证"),
    (["--role", "trainee", "--name", "甲", "--id-number", "VALID", "--category", "学生"], "身份类别"),
    (["--role", "trainee", "--name", "甲", "--id-number", "VALID"], "身份类别"),
    (["--role", "admin", "--name", "甲"], "登录名"),
    (["--role", "admin", "--name", "甲", "--phone", "123"], "手机号码"),
    (["--role", "admin", "--name", "", "--phone", "13612340001"], "姓名"),
])
def test_create_user_validations(app, runner, institution, args, message):
    args = [make_id_number() if a == "VALID" else a for a in args]
    before = counts()
    r = create(runner, *args)
    assert r.exit_code == 1, r.output
    assert message in r.output
    assert counts() == before


def test_create_user_weak_password(app, runner):
    before = counts()
    r = runner.invoke(args=["create-user", "--role", "admin", "--name", "甲", "--phone", "13612340001", "--password", "weak"])
    assert r.exit_code == 1 and "密码" in r.output
    assert counts() == before


def test_create_user_duplicate_phone(app, runner):
    created(create(runner, "--role", "admin", "--name", "甲", "--phone", "13612340001"))
    before = counts()
    r = create(runner, "--role", "regulator", "--name", "乙", "--phone", "13612340001", "--region-code", "150100")
    assert r.exit_code == 1 and "手机号码" in r.output
    assert counts() == before


@pytest.mark.parametrize("role", ["root", "teacher", "Trainee", ""])
def test_create_user_bad_role(app, runner, role):
    before = counts()
    r = create(runner, "--role", role, "--name", "甲", "--phone", "13612340001")
    assert r.exit_code == 2 and "--role" in r.output
    assert counts() == before


def test_create_user_needs_role_name_and_password(app, runner):
    assert runner.invoke(args=["create-user", "--name", "甲", "--password", "Strong123"]).exit_code == 2
    assert runner.invoke(args=["create-user", "--role", "admin", "--password", "Strong123"]).exit_code == 2
    assert runner.invoke(args=["create-user", "--role", "admin", "--name", "甲"]).exit_code == 2
