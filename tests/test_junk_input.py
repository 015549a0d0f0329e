"""Junk in every page form and API write (NUL, huge, malformed numbers and dates) is refused, never a 500:
PostgreSQL refuses NUL in text outright, so this matters most there (CI runs it on both databases)."""
import itertools
import re

import pytest

from tests.test_access import account, web_login

JUNK = [
    {},
    {"text": "\x00", "title": "\x00", "name": "\x00", "reason": "\x00", "note": "\x00"},
    {"text": "长" * 20000, "title": "长" * 20000, "teacher": "长" * 5000, "stream_url": "javascript:alert(1)",
     "date": "2026-13-45", "start": "25:61", "end": "-1", "score": "NaN", "kind": "single", "type": "fill",
     "options": "x", "key": "Z", "chapter_id": "99999999999999999999", "time_limit_minutes": "1e309",
     "pass_percent": "inf", "max_attempts": "-0", "question_count": "99999999999", "id_number": "１" * 18,
     "conclusion": "x", "days": "1e400", "kind_": "x", "n": "99999999999999999999", "region_code": "１５０１００",
     "total_hours": "nan", "online_hours": "inf", "start_date": "0000-00-00", "end_date": "9999-99-99",
     "occupation": "\x01", "policy_profile": "x", "course_ids": "abc", "username": "x", "password": "x"},
]


def test_junk_in_every_page_form_is_refused_not_a_500(app, demo):
    staff = web_login(app, account(demo, "staff")["username"])
    trainee = web_login(app, account(demo, "trainee")["username"])
    regulator = web_login(app, account(demo, "regulator")["username"])
    admin = web_login(app, account(demo, "admin")["username"])
    bad = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or "POST" not in rule.methods or rule.rule in ("/logout",):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "x", path)
        for client, data in itertools.product((staff, trainee, regulator, admin), JUNK):
            r = client.post(path, data=data)
            if r.status_code >= 500:
                bad.append((path, r.status_code, list(data)[:3]))
    assert not bad, bad


def test_nul_in_every_api_write_is_refused_not_a_500(app, demo, api):
    clients = [api(account(demo, r)["username"]) for r in ("staff", "trainee", "regulator", "admin")]
    body = {k: "\x00" for k in ("text", "title", "name", "reason", "note", "teacher", "stream_url", "starts_at",
                                 "ends_at", "event", "answer", "key", "type", "kind", "id_number", "region_code",
                                 "conclusion", "employer", "phone", "category", "password", "username")}
    body.update({"chapter_id": 1, "thread_id": 1, "trainee_id": 4, "question_id": 1, "score": 1, "n": 1,
                 "options": ["\x00", "b"]})
    bad = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or not (rule.methods & {"POST", "PUT"}):
            continue
        path = re.sub(r"<(?:int|bigint):[^>]+>", "1", rule.rule)[len("/api/v1"):]
        for c in clients:
            for m in sorted(rule.methods & {"POST", "PUT"}):
                r = c.call(m, path, body)
                if r.status_code >= 500:
                    bad.append((m, path, r.status_code))
    assert not bad, bad
