"""Request limits: bodies over a route's limit are refused with 413 before they are read, and the routes that can be
abused (registration, certificate lookups) are rate-limited per address: 429 JSON for the API, a Chinese page else."""
import io
import json
import os
import time

from sqlalchemy import func, select

from models import Enrollment, LedgerEntry, User
from tests.conftest import register_payload
from tracker.extensions import db

MB = 1024 * 1024
STAFF = "13900000001"


class CountingStream(io.RawIOBase):
    """A request body that counts how much of it the server read, and that is never fully in memory."""

    def __init__(self, size, chunk=b"{"):
        self.size, self.served, self.chunk = size, 0, chunk

    def readable(self):
        return True

    def readinto(self, buf):
        n = min(len(buf), self.size - self.served)
        buf[:n] = self.chunk * n
        self.served += n
        return n


def raw_post(client, path, stream, length=None, content_type="application/json", **kw):
    """POST `stream` as the body as a server would pass it on: with a Content-Length, or chunked without one."""
    env = {"wsgi.input": stream, "CONTENT_LENGTH": str(length) if length is not None else "", "CONTENT_TYPE": content_type}
    if length is None:
        env["wsgi.input_terminated"] = True  # what servers set for a chunked body they de-chunk
        kw.setdefault("headers", {})["Transfer-Encoding"] = "chunked"
    return client.post(path, environ_overrides=env, **kw)


def multipart(field, filename, data, **fields):
    """A multipart body in memory (the file and any plain fields), and its content type."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import stream_encode_multipart

    files = MultiDict({field: FileStorage(io.BytesIO(data), filename), **fields})
    stream, _length, boundary = stream_encode_multipart(files, use_tempfile=False)
    return stream, f'multipart/form-data; boundary="{boundary}"'


def _counts(app):
    with app.app_context():
        s = db.session
        return (s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(LedgerEntry)),
                s.scalar(select(func.count()).select_from(Enrollment)))


def test_a_200_mb_json_body_to_the_token_route_is_refused_before_it_is_read(app, client):
    body = CountingStream(200 * MB)
    started = time.monotonic()
    r = raw_post(client, "/api/v1/auth/token", body, 200 * MB)
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "too_large"
    assert body.served == 0  # not a byte read
    assert time.monotonic() - started < 2


def test_json_just_over_one_megabyte_is_413_and_just_under_is_read(app, client):
    big = json.dumps({"username": "x" * (MB + 10), "password": "y"})
    assert client.post("/api/v1/auth/token", data=big, content_type="application/json").status_code == 413
    small = json.dumps({"username": "x" * 1000, "password": "y"})
    assert client.post("/api/v1/auth/token", data=small, content_type="application/json").status_code != 413


def test_a_chunked_json_body_without_length_is_cut_off_at_the_limit(app, client):
    body = CountingStream(50 * MB)
    r = raw_post(client, "/api/v1/auth/register", body)
    assert r.status_code == 413
    assert body.served <= 2 * MB  # stopped right after the limit, not read to the end
    assert _counts(app)[0] == 0


def test_an_oversized_photo_is_413_and_nothing_written(app, client, api, demo):
    tok = api(next(a for a in demo["accounts"] if a["role"] == "trainee")["username"]).token
    before = _counts(app)
    body = CountingStream(9 * MB, b"\xff")
    started = time.monotonic()
    r = raw_post(client, "/api/v1/me/face", body, 9 * MB, "multipart/form-data; boundary=xyz",
                 headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert body.served == 0 and time.monotonic() - started < 2
    assert _counts(app) == before
    # a photo under the limit still reaches the route (which says what is wrong with it)
    body, ctype = multipart("image", "a.jpg", os.urandom(2 * MB))
    r = raw_post(client, "/api/v1/me/face", body, len(body.getvalue()), ctype,
                 headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code != 413


def test_an_oversized_spreadsheet_import_is_413_page_and_nothing_written(app, demo):
    c = app.test_client()
    assert c.post("/login", data={"username": STAFF, "password": "Demo1234"}).status_code == 302
    class_id = demo["classes"][0]["class_id"]
    before = _counts(app)
    started = time.monotonic()
    body, ctype = multipart("file", "roster.csv", b"a" * (11 * MB))
    r = raw_post(c, f"/manage/classes/{class_id}/roster/import", body, len(body.getvalue()), ctype)
    assert r.status_code == 413 and time.monotonic() - started < 5
    assert "上传内容过大" in r.get_data(as_text=True) and r.mimetype == "text/html"
    assert _counts(app) == before
    # JSON-sized limits do not apply to a spreadsheet: a 2 MB file is read (and refused for its content)
    body, ctype = multipart("file", "roster.xlsx", os.urandom(2 * MB))
    r = raw_post(c, f"/manage/classes/{class_id}/roster/import", body, len(body.getvalue()), ctype)
    assert r.status_code == 400


def test_the_limits_table_gives_each_kind_of_route_its_own_limit(app):
    from tracker.limits import body_limit

    with app.app_context():
        assert body_limit("api.token") == MB
        assert body_limit("api.photo_check_answer") == 8 * MB
        assert body_limit("assessment.bank_import") == 10 * MB
        assert body_limit("api.lecture_recording") == app.config["TRACKER_MAX_UPLOAD"]
        assert body_limit(None) == MB  # unknown paths too


# --- rate limits ------------------------------------------------------------------------------------------------------


def test_registration_is_throttled_per_address(app, client):
    codes = [client.post("/api/v1/auth/register", json=register_payload(id_number="1", phone="1"),
                         environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(12)]
    assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]
    r = client.post("/api/v1/auth/register", json=register_payload(), environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_requests"
    assert "请求过于频繁" in r.get_json()["error"]["message"] and r.headers.get("Retry-After")
    # the page counts in the same budget and answers a Chinese page
    r = client.post("/register", data={"name": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert r.status_code == 429 and "请求过于频繁" in r.get_data(as_text=True)
    # reading the form is not limited; another address is not affected
    assert client.get("/register", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    r = client.post("/api/v1/auth/register", json=register_payload(), environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert r.status_code == 201


def test_certificate_lookups_are_rate_limited_per_address(app, client):
    app.config["TRACKER_VERIFY_RATE"] = "5 per minute"
    a = {"REMOTE_ADDR": "10.0.0.7"}
    codes = [client.get(f"/api/v1/verify/2026-0001-{n:05d}", environ_base=a).status_code for n in range(3)]
    codes += [client.get(f"/verify/2026-0001-{n:05d}", environ_base=a).status_code for n in range(3)]
    assert codes == [404] * 5 + [429]
    r = client.get("/api/v1/verify/2026-0001-00009", environ_base=a)
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_requests"
    page = client.get("/verify/2026-0001-00009", environ_base=a)
    assert page.status_code == 429 and "请求过于频繁" in page.get_data(as_text=True)
    assert client.get("/verify/2026-0001-00009", environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 404


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(tmp_path, sqlite_template):
    import shutil

    from tracker import create_app

    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite3")
    app = create_app({"TRACKER_INSTANCE": str(tmp_path / "i"), "TESTING": True, "SECRET_KEY": "k", "TRACKER_ID_PEPPER": "p",
                      "TRACKER_PROXY_HOPS": 1, "TRACKER_VERIFY_RATE": "2 per minute",
                      "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    c = app.test_client()
    for who, expected in (("198.51.100.1", [404, 404, 429]), ("198.51.100.2", [404])):
        codes = [c.get("/verify/2026-0001-00001", headers={"X-Forwarded-For": who}).status_code for _ in expected]
        assert codes == expected, who
    from tracker.extensions import db
    db.engine.dispose()


def test_a_chapter_video_upload_reaches_the_route_as_a_file_on_disk(app, demo, monkeypatch):
    """Videos are large: the form parser spools them to a temporary file and store_video copies it in chunks."""
    from models import Course
    from tracker.accounts.rules import RuleError
    from tracker.learning import manage

    seen = {}

    def store_video(media, stream, filename):
        seen["fileno"] = stream.fileno()  # an in-memory BytesIO has none
        seen["size"] = sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))
        raise RuleError("unsupported_video", "测试", "video")

    monkeypatch.setattr(manage, "store_video", store_video)
    c = app.test_client()
    assert c.post("/login", data={"username": STAFF, "password": "Demo1234"}).status_code == 302
    with app.app_context():
        course_id = db.session.scalar(select(Course.id).order_by(Course.id))
    body, ctype = multipart("video", "lesson.webm", os.urandom(3 * MB), title="第三章")
    r = raw_post(c, f"/manage/courses/{course_id}", body, len(body.getvalue()), ctype)
    assert r.status_code == 400 and seen["size"] == 3 * MB and seen["fileno"] >= 0
