"""Fixtures: a fresh app and database per test, on SQLite or (TRACKER_DATABASE_URL) PostgreSQL."""
import os
import random
import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

from tracker import create_app
from tracker.accounts import services as _account_services
from tracker.accounts.rules import id_check_digit

PG_URL = os.environ.get("TRACKER_DATABASE_URL", "")


def _pg_admin(url, *statements):
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE cannot run in a transaction)."""
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template():
    """The migrated PostgreSQL schema, built once as a template database; each test gets a fresh copy."""
    from sqlalchemy.engine import make_url

    from tracker.db import upgrade
    from tracker.extensions import make_engine

    name = make_url(PG_URL).database + "_template"
    _pg_admin(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()
    yield name
    _pg_admin(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def reset_postgres(url, template):
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    _pg_admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name} TEMPLATE {template}")


# What production hashes passwords with, noted before the fixture below cheapens it.
PRODUCTION_PASSWORD_METHOD = _account_services.PASSWORD_METHOD


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Cheap scrypt parameters in tests: the production cost (~100 ms a hash) would dominate the suite."""
    monkeypatch.setattr(_account_services, "PASSWORD_METHOD", "scrypt:1024:8:1")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """The migrated SQLite schema, built once: each test starts from a copy (migrating costs ~0.2 s a test)."""
    from tracker.db import upgrade
    from tracker.extensions import make_engine

    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection's close checkpoints the WAL into the file
    return path


@pytest.fixture
def app(tmp_path, request):
    config = {"TRACKER_INSTANCE": str(tmp_path / "instance"), "TESTING": True, "SECRET_KEY": "test-secret",
              "TRACKER_ID_PEPPER": "test-pepper", "WTF_CSRF_ENABLED": False}
    if PG_URL.startswith("postgresql"):
        reset_postgres(PG_URL, request.getfixturevalue("pg_template"))
        config["TRACKER_DATABASE_URL"] = PG_URL
    else:
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "test.sqlite3")
        config["TRACKER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    app = create_app(config)
    from tracker.extensions import db

    yield app
    db.session.remove()
    db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_id_number(rnd=random, region="150102", born=None):
    # A random birth date too: 1000 serials alone collide often enough to make tests flaky.
    born = born or (date(1960, 1, 1) + timedelta(days=rnd.randrange(365 * 45))).strftime("%Y%m%d")
    body = region + born + f"{rnd.randrange(1000):03d}"
    return body + id_check_digit(body)


class Api:
    """A JSON client for /api/v1 with an optional bearer token."""

    def __init__(self, client, token=None):
        self.client, self.token = client, token

    def call(self, method, path, body=None, **kw):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.open("/api/v1" + path, method=method, json=body, headers=headers, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)


@pytest.fixture
def api(client):
    def make(username=None, password="Demo1234"):
        anon = Api(client)
        if username is None:
            return anon
        r = anon.post("/auth/token", {"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        return Api(client, r.get_json()["token"])

    return make


@pytest.fixture
def demo(app, monkeypatch):
    """The demo data, with tiny stand-in videos (rendering the real ones takes seconds; e2e tests do that)."""
    from tracker import demo as demo_mod

    monkeypatch.setattr(demo_mod, "render_chapter_video", _tiny_video)
    # Lecture tests schedule and count their own lectures; the demo's live class is tested on its own.
    monkeypatch.setattr(demo_mod, "ensure_demo_lecture", lambda s: None)
    with app.app_context():
        return demo_mod.load_demo(app)


def _tiny_video(path, title, seconds, fps=1, size=(64, 36)):
    import cv2
    import numpy as np

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    for _ in range(max(1, seconds // 30)):
        w.write(np.zeros((size[1], size[0], 3), np.uint8))
    w.release()


def register_payload(**over):
    data = dict(name="测试学员", id_number=make_id_number(), phone="139%08d" % random.randrange(10**8),
                category="企业职工", employer="测试企业", password="Passw0rd1", face_consent=True)
    data.update(over)
    return data


@pytest.fixture(scope="session")
def demo_videos(tmp_path_factory):
    """The demo's real chapter videos, rendered once per test run and copied into each live server."""
    from tracker.demo import CHAPTERS, render_chapter_video

    folder = tmp_path_factory.mktemp("videos")
    paths = []
    for n, (_title, seconds) in enumerate(CHAPTERS, 1):
        render_chapter_video(folder / f"demo-ch{n}.webm", f"Chapter {n}", seconds)
        paths.append(folder / f"demo-ch{n}.webm")
    return paths
