"""Security headers: scripts only from the platform itself, no framing, no referrer to other sites, nosniff; HSTS
and Secure cookies only under TRACKER_HTTPS; no template keeps an inline script or event handler."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _csp(r):
    return dict((part.split(" ", 1) + [""])[:2] for part in r.headers["Content-Security-Policy"].split("; "))


def test_pages_and_api_carry_the_security_headers(app, client):
    for path in ("/login", "/api/v1/openapi.json", "/verify/nothing", "/static/app.css"):
        r = client.get(path)
        r.close()
        csp = _csp(r)
        assert csp["script-src"] == "'self'", path  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
        assert "blob:" in csp["media-src"] and "blob:" in csp["img-src"] and "ws://localhost" in csp["connect-src"]
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP: no HSTS


def test_hsts_and_secure_cookies_only_under_https(tmp_path):
    from tracker import create_app

    app = create_app({"TRACKER_INSTANCE": str(tmp_path / "i"), "TESTING": True, "SECRET_KEY": "k",
                      "TRACKER_ID_PEPPER": "p", "TRACKER_HTTPS": True,
                      "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    c = app.test_client()
    r = c.get("/login", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "wss://localhost" in _csp(r)["connect-src"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    from tracker.extensions import db
    db.engine.dispose()


def test_a_live_lecture_page_may_reach_its_streams_origin_and_no_other(app):
    from flask import g

    from tracker.headers import allow_origin, content_security_policy

    with app.test_request_context("/learn/lectures/1"):
        allow_origin("https://live.example.cn/room/1.m3u8", "connect-src", "media-src")
        allow_origin("javascript:alert(1)", "frame-src")  # not an http(s) origin: ignored
        csp = dict(p.split(" ", 1) for p in content_security_policy().split("; "))
        assert "https://live.example.cn" in csp["connect-src"] and "https://live.example.cn" in csp["media-src"]
        assert "javascript" not in csp["frame-src"] and csp["script-src"] == "'self'"
        g.pop("csp_extra")
        assert "live.example.cn" not in content_security_policy()


def test_no_template_or_script_keeps_inline_code():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    found = []
    for path in sorted((ROOT / "templates").glob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m.group(0)}" for m in inline_script.finditer(text)]
        found += [f"{path.name}: {m.group(0)}" for m in handler.finditer(text)]
        found += [f"{path.name}: javascript:" for _ in re.finditer(r"javascript:", text, re.I)]
    assert found == []
