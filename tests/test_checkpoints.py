"""Checkpoints and proofs: the stored tree, signed tree heads, the API in the formats of API.md (checked by a
verifier written here from API.md alone), `tracker ledger verify` on tampering, export and offline verification."""
import base64
import hashlib
import json
import os
import stat

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text

from tracker import ledger
from tracker.db import guard_sql, unguard_sql
from tracker.extensions import db
from tracker.ledger import checkpoints, keys, merkle, offline

from tests.conftest import register_payload


# --- an independent verifier, from API.md's "Proof formats" alone --------------------------------------------------

def cj(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha(b):
    return hashlib.sha256(b).digest()


def api_md_checkpoint_ok(cp, public_key_b64):
    message = f"tracker-checkpoint\n{cp['tree_size']}\n{cp['root_hash']}\n{cp['timestamp']}\n".encode()
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(base64.b64decode(cp["signature"]), message)
        return True
    except InvalidSignature:
        return False


def api_md_inclusion_ok(proof, root_hex):
    """RFC 9162 §2.1.3.2 with the leaf recomputed from the entry: SHA-256(0x00 ‖ canonical JSON)."""
    leaf = sha(b"\x00" + cj(proof["entry"]))
    if leaf.hex() != proof["leaf_hash"]:
        return False
    fn, sn, r = proof["leaf_index"], proof["tree_size"] - 1, leaf
    if fn > sn:
        return False
    for p in map(bytes.fromhex, proof["audit_path"]):
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            r = sha(b"\x01" + r + p)
        fn, sn = fn // 2, sn // 2
    return sn == 0 and r.hex() == root_hex


def api_md_consistency_ok(first, second, first_root_hex, second_root_hex, path_hex):
    """RFC 9162 §2.1.4.2."""
    path = [bytes.fromhex(h) for h in path_hex]
    if first == second:
        return not path and first_root_hex == second_root_hex
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [bytes.fromhex(first_root_hex)] + path
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = sha(b"\x01" + c + fr), sha(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            sr = sha(b"\x01" + sr + c)
        fn, sn = fn // 2, sn // 2
    return fr.hex() == first_root_hex and sr.hex() == second_root_hex and sn == 0


# --- helpers ------------------------------------------------------------------------------------------------------------

def append_n(n, kind="test.event", subject_id=None):
    with _app[0].app_context(), db.transaction() as s:
        for i in range(n):
            ledger.append(s, kind, {"n": i, "text": f"第{i}条"}, actor_id=i, subject_id=subject_id)


def checkpoint():
    with _app[0].app_context(), db.transaction() as s:
        cp = checkpoints.make_checkpoint(s)
        return checkpoints.as_json(cp) if cp else None


def rows(sql, **params):
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def tamper(table, *statements):
    with db.engine.begin() as conn:
        dialect = conn.dialect.name
        for stmt in unguard_sql(dialect, table):
            conn.execute(text(stmt))
        for stmt, params in statements:
            conn.execute(text(stmt), params)
        for stmt in guard_sql(dialect, table):
            conn.execute(text(stmt))


def verify(runner, *args):
    return runner.invoke(args=["ledger", "verify", *args])


_app = []


@pytest.fixture(autouse=True)
def the_app(app):
    """Signing needs the app (its instance folder holds the key), as it has in a request or a command. The helpers
    push its context only for their own work: a context held across requests would keep their sessions open."""
    _app[:] = [app]
    yield
    _app.clear()


@pytest.fixture
def quiet(app):
    """No timed checkpoints: each test makes its own."""
    app.config["TRACKER_CHECKPOINT_INTERVAL"] = 0
    return app


# --- the stored tree ------------------------------------------------------------------------------------------------------

def test_each_append_stores_its_leaf_and_completed_subtrees(quiet):
    append_n(11)
    entries = rows("SELECT * FROM ledger_entries ORDER BY seq")
    leaves = []
    for e in entries:
        body = {k: e[k] for k in ("seq", "ts", "kind", "actor_id", "subject_id", "prev_hash")}
        body["payload"] = json.loads(e["payload"])
        assert sha(cj(body)).hex() == e["hash"]  # the chain hashes exactly this object
        leaves.append(sha(b"\x00" + cj(body)))
    stored = {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows("SELECT * FROM merkle_nodes")}
    frontier, expected = merkle.Frontier(), {}
    for leaf in leaves:
        for level, index, h in frontier.append(leaf):
            expected[(level, index)] = h
    assert stored == expected
    assert len(stored) == 11 + 5 + 2 + 1  # complete subtrees of 11 leaves


def test_merkle_nodes_and_checkpoints_are_append_only(quiet):
    append_n(2)
    checkpoint()
    with pytest.raises(Exception, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE merkle_nodes SET hash = :h WHERE level = 0 AND idx = 0"), {"h": b"\0" * 32})
    with pytest.raises(Exception, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM ledger_checkpoints"))


# --- checkpoints and the key ------------------------------------------------------------------------------------------

def test_checkpoint_is_signed_with_a_key_made_on_first_use(quiet, app, client):
    assert checkpoint() is None  # an empty ledger: nothing to sign
    append_n(5)
    cp = checkpoint()
    assert cp["tree_size"] == 5 and len(cp["root_hash"]) == 64
    assert cp["timestamp"].endswith("Z") and "T" in cp["timestamp"]
    key_file = keys.key_path(app.instance_path)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    published = client.get("/api/v1/ledger/public-key").get_json()
    assert published["algorithm"] == "ed25519" and len(base64.b64decode(published["public_key"])) == 32
    assert api_md_checkpoint_ok(cp, published["public_key"])
    leaves = [sha(b"\x00" + cj(offline_body(e))) for e in rows("SELECT * FROM ledger_entries ORDER BY seq")]
    f = merkle.Frontier()
    for leaf in leaves:
        f.append(leaf)
    assert f.root().hex() == cp["root_hash"]
    # the same key next time, and the same checkpoint while nothing was appended
    assert checkpoint() == cp
    keys._cache.clear()
    assert client.get("/api/v1/ledger/public-key").get_json() == published


def offline_body(e):
    return {"seq": e["seq"], "ts": e["ts"], "kind": e["kind"], "actor_id": e["actor_id"], "subject_id": e["subject_id"],
            "payload": json.loads(e["payload"]), "prev_hash": e["prev_hash"]}


def test_key_file_race_keeps_one_key(tmp_path):
    """Two processes creating the key at once: both end up with the one that landed first."""
    path = keys.key_path(tmp_path)
    keys._create(path)
    first = path.read_bytes()
    keys._create(path)
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == [keys.KEY_FILE]


def test_checkpoints_every_interval_while_entries_arrive(app):
    app.config["TRACKER_CHECKPOINT_INTERVAL"] = 60
    append_n(1)  # the first entry is signed at once
    with app.app_context(), db.transaction() as s:
        assert checkpoints.latest(s).tree_size == 1
    append_n(3)
    with app.app_context(), db.transaction() as s:
        assert checkpoints.latest(s).tree_size == 1  # within the minute: no new one
        stamp = checkpoints.parse_rfc3339(checkpoints.latest(s).timestamp)
        assert checkpoints.checkpoint_if_due(s, now=stamp + 30) is None
        made = checkpoints.checkpoint_if_due(s, now=stamp + 61)  # what the timer does after a quiet minute
        assert made.tree_size == 4
        assert checkpoints.checkpoint_if_due(s, now=stamp + 200) is None  # nothing new to sign


def test_an_append_after_a_minute_signs_the_tree_in_its_own_transaction(app, monkeypatch):
    app.config["TRACKER_CHECKPOINT_INTERVAL"] = 60
    append_n(2)
    real = checkpoints.time.time
    monkeypatch.setattr(checkpoints.time, "time", lambda: real() + 61)
    append_n(1)
    with db.transaction() as s:
        assert checkpoints.latest(s).tree_size == 3


# --- the API, checked with the verifier written above from API.md ---------------------------------------------------

@pytest.fixture
def people(app, demo, api):
    """The demo trainee with entries about them, and accounts to ask with."""
    app.config["TRACKER_CHECKPOINT_INTERVAL"] = 0
    accounts = {a["role"]: a for a in demo["accounts"]}
    trainee = next(a for a in demo["accounts"] if a["role"] == "trainee")
    other = next(a for a in demo["accounts"] if a["role"] == "trainee" and a["user_id"] != trainee["user_id"])
    append_n(3, "test.about_trainee", subject_id=trainee["user_id"])
    return {"trainee": trainee, "other": other, "staff": accounts["staff"], "regulator": accounts["regulator"],
            "admin": accounts["admin"]}


def entry_seqs(subject_id):
    return [r["seq"] for r in rows("SELECT seq FROM ledger_entries WHERE subject_id = :s ORDER BY seq", s=subject_id)]


def test_inclusion_proofs_of_the_api_verify_independently(people, api):
    first = checkpoint()
    append_n(4)
    latest = checkpoint()
    key = api().get("/ledger/public-key").get_json()["public_key"]
    listed = api().get("/ledger/checkpoints").get_json()["checkpoints"]
    assert [c["tree_size"] for c in listed[:2]] == [latest["tree_size"], first["tree_size"]]
    assert all(api_md_checkpoint_ok(c, key) for c in listed)
    seqs = [seq for seq in entry_seqs(people["trainee"]["user_id"]) if seq <= first["tree_size"]]
    assert len(seqs) >= 3
    trainee = api(people["trainee"]["username"])
    for seq in seqs:
        p = trainee.get(f"/ledger/entries/{seq}/proof").get_json()
        assert set(p) >= {"leaf_index", "tree_size", "leaf_hash", "audit_path", "entry"}
        assert p["tree_size"] == latest["tree_size"] and p["leaf_index"] == seq - 1 and p["entry"]["seq"] == seq
        assert p["checkpoint"] == latest
        assert api_md_inclusion_ok(p, latest["root_hash"])
        old = trainee.get(f"/ledger/entries/{seq}/proof?tree_size={first['tree_size']}").get_json()
        assert old["tree_size"] == first["tree_size"] and api_md_inclusion_ok(old, first["root_hash"])
        # a changed entry no longer proves anything
        forged = dict(p, entry=dict(p["entry"], kind="forged"))
        assert not api_md_inclusion_ok(forged, latest["root_hash"])
        assert not api_md_inclusion_ok(dict(forged, leaf_hash=sha(b"\x00" + cj(forged["entry"])).hex()), latest["root_hash"])


def test_consistency_proofs_of_the_api_verify_independently(quiet, api):
    cps = []
    for n in (1, 2, 3, 5, 8, 13):
        append_n(n)
        cps.append(checkpoint())
    anon = api()
    for i, a in enumerate(cps):
        for b in cps[i:]:
            body = anon.get(f"/ledger/consistency?first={a['tree_size']}&second={b['tree_size']}").get_json()
            assert body["first"] == a["tree_size"] and body["second"] == b["tree_size"]
            assert api_md_consistency_ok(a["tree_size"], b["tree_size"], a["root_hash"], b["root_hash"], body["path"])
            if a is not b:
                assert not api_md_consistency_ok(a["tree_size"], b["tree_size"], b["root_hash"], a["root_hash"], body["path"])


def test_checkpoint_list_is_paginated_newest_first(quiet, api):
    for _ in range(5):
        append_n(1)
        checkpoint()
    anon = api()
    page1 = anon.get("/ledger/checkpoints?per_page=2").get_json()
    assert [c["tree_size"] for c in page1["checkpoints"]] == [5, 4] and page1["total"] == 5
    assert anon.client.get(page1["next"]).get_json()["checkpoints"][0]["tree_size"] == 3
    page3 = anon.get("/ledger/checkpoints?per_page=2&page=3").get_json()
    assert [c["tree_size"] for c in page3["checkpoints"]] == [1] and page3["next"] is None
    assert anon.get("/ledger/checkpoints/3").get_json()["tree_size"] == 3
    assert anon.get("/ledger/checkpoints/9").status_code == 404
    assert anon.get("/ledger/checkpoints?per_page=x").status_code == 400


def test_proof_errors(people, api):
    cp = checkpoint()
    admin = api(people["admin"]["username"])
    assert admin.get(f"/ledger/entries/{cp['tree_size'] + 50}/proof").status_code == 404
    assert admin.get("/ledger/entries/1/proof?tree_size=2").get_json()["error"]["code"] == "no_checkpoint"
    append_n(1)  # not yet in a checkpoint
    newest = rows("SELECT max(seq) AS m FROM ledger_entries")[0]["m"]
    r = admin.get(f"/ledger/entries/{newest}/proof")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_in_checkpoint"
    assert admin.get("/ledger/entries/1/proof?tree_size=abc").status_code == 400
    anon = api()
    for q in ("first=0&second=3", "first=3&second=2", f"first=1&second={newest}", "first=x&second=1"):
        assert anon.get("/ledger/consistency?" + q).status_code == 400, q


def test_who_may_read_a_proof(people, api, app):
    from tracker.accounts.services import create_user

    checkpoint()
    seq = entry_seqs(people["trainee"]["user_id"])[-1]
    about_nobody = rows("SELECT seq FROM ledger_entries WHERE subject_id IS NULL ORDER BY seq")[0]["seq"]
    with db.transaction() as s:
        from models import Institution

        inst = Institution(name="另一所培训学校", region_code="440300")
        s.add(inst)
        s.flush()
        create_user(s, role="staff", name="外校老师", password="Demo1234", phone="13911110001", institution_id=inst.id)
        create_user(s, role="regulator", name="外地科长", password="Demo1234", phone="13911110002", region_code="440000")
    checkpoint()
    path = f"/ledger/entries/{seq}/proof"
    assert api().get(path).status_code == 401
    for who in ("trainee", "staff", "regulator", "admin"):
        assert api(people[who]["username"]).get(path).status_code == 200, who
    for username in (people["other"]["username"], "13911110001", "13911110002"):
        r = api(username).get(path)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", username
    assert api(people["admin"]["username"]).get(f"/ledger/entries/{about_nobody}/proof").status_code == 200
    assert api(people["staff"]["username"]).get(f"/ledger/entries/{about_nobody}/proof").status_code == 403
    # checkpoints, the key and consistency proofs are public
    assert api().get("/ledger/checkpoints").status_code == 200
    assert api().get("/ledger/public-key").status_code == 200


def test_openapi_documents_the_proof_calls(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for p in ("/ledger/public-key", "/ledger/checkpoints", "/ledger/entries/{seq}/proof", "/ledger/consistency"):
        assert "get" in paths[p], p


# --- tracker ledger verify ------------------------------------------------------------------------------------------------

@pytest.fixture
def signed(quiet):
    """Three checkpoints over 12 entries."""
    made = []
    for n in (3, 4, 5):
        append_n(n)
        made.append(checkpoint())
    return made


def test_verify_reports_tree_and_checkpoints(runner, signed):
    r = verify(runner)
    assert r.exit_code == 0, r.output
    assert "ledger intact: 12 entries" in r.output
    assert "merkle tree intact: 12 leaves" in r.output
    assert "checkpoints intact: 3 verified" in r.output


def test_verify_catches_an_edited_entry_in_the_tree_and_the_checkpoints(runner, signed):
    tamper("ledger_entries", ("UPDATE ledger_entries SET payload = :p WHERE seq = 5", {"p": '{"n":9,"text":"改"}'}))
    r = verify(runner)
    assert r.exit_code == 1
    assert "ledger BROKEN at entry 5" in r.output
    assert "merkle tree BROKEN at entry 5" in r.output


@pytest.mark.parametrize("column,value", [
    ("root_hash", "0" * 64), ("timestamp", "2020-01-01T00:00:00Z"), ("signature", base64.b64encode(b"x" * 64).decode()),
])
def test_verify_catches_an_edited_checkpoint(runner, signed, column, value):
    tamper("ledger_checkpoints", (f"UPDATE ledger_checkpoints SET {column} = :v WHERE tree_size = 7", {"v": value}))
    r = verify(runner)
    assert r.exit_code == 1
    assert "checkpoint BROKEN at tree size 7" in r.output, r.output


def test_verify_catches_a_re_signed_checkpoint_of_another_tree(runner, signed, app):
    """Even signed with the real key, a checkpoint whose root is not the entries' root fails."""
    root, stamp = "ab" * 32, "2026-11-01T00:00:00Z"
    sig = keys.sign(offline.checkpoint_message(9, root, stamp), app.instance_path)
    tamper("ledger_checkpoints", ("INSERT INTO ledger_checkpoints (tree_size, root_hash, timestamp, signature) "
                                  "VALUES (9, :r, :t, :s)", {"r": root, "t": stamp, "s": sig}))
    r = verify(runner)
    assert r.exit_code == 1 and "checkpoint BROKEN at tree size 9" in r.output


def test_verify_catches_a_checkpoint_beyond_the_ledger(runner, signed, app):
    stamp = "2026-11-01T00:00:00Z"
    sig = keys.sign(offline.checkpoint_message(40, signed[-1]["root_hash"], stamp), app.instance_path)
    tamper("ledger_checkpoints", ("INSERT INTO ledger_checkpoints (tree_size, root_hash, timestamp, signature) "
                                  "VALUES (40, :r, :t, :s)", {"r": signed[-1]["root_hash"], "t": stamp, "s": sig}))
    r = verify(runner)
    assert r.exit_code == 1 and "checkpoint BROKEN at tree size 40" in r.output


def test_verify_catches_a_checkpoint_signed_by_another_key(runner, signed):
    cp = signed[1]
    other = base64.b64encode(Ed25519PrivateKey.generate().sign(
        offline.checkpoint_message(cp["tree_size"], cp["root_hash"], cp["timestamp"]))).decode()
    tamper("ledger_checkpoints", ("UPDATE ledger_checkpoints SET signature = :s WHERE tree_size = :n",
                                  {"s": other, "n": cp["tree_size"]}))
    r = verify(runner)
    assert r.exit_code == 1 and f"checkpoint BROKEN at tree size {cp['tree_size']}" in r.output


@pytest.mark.parametrize("sql,params,seq", [
    ("UPDATE merkle_nodes SET hash = :h WHERE level = 0 AND idx = 6", {"h": b"\1" * 32}, 7),
    ("UPDATE merkle_nodes SET hash = :h WHERE level = 2 AND idx = 1", {"h": b"\1" * 32}, 5),
    ("DELETE FROM merkle_nodes WHERE level = 1 AND idx = 2", {}, 5),
    ("INSERT INTO merkle_nodes (level, idx, hash) VALUES (0, 12, :h)", {"h": b"\1" * 32}, 13),
])
def test_verify_catches_a_changed_tree_node(runner, signed, sql, params, seq):
    tamper("merkle_nodes", (sql, params))
    r = verify(runner)
    assert r.exit_code == 1
    assert f"merkle tree BROKEN at entry {seq}" in r.output, r.output


def test_verify_with_the_published_key_and_a_wrong_one(runner, signed, client):
    key = client.get("/api/v1/ledger/public-key").get_json()["public_key"]
    assert verify(runner, "--public-key", key).exit_code == 0
    wrong = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    r = verify(runner, "--public-key", wrong)
    assert r.exit_code == 1 and "checkpoint BROKEN at tree size 3" in r.output


# --- export and offline verification ----------------------------------------------------------------------------------

def test_export_verifies_offline_with_the_public_key(runner, signed, client, tmp_path):
    out = tmp_path / "ledger.jsonl"
    assert runner.invoke(args=["ledger", "export", str(out)]).exit_code == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1 + 12 + 3
    assert all(cj(json.loads(line)) == line for line in lines)  # canonical JSON, one object a line
    key_json = tmp_path / "key.json"
    key_json.write_text(json.dumps(client.get("/api/v1/ledger/public-key").get_json()))
    r = verify(runner, "--from-checkpoint", str(out), "--public-key", str(key_json))
    assert r.exit_code == 0, r.output
    assert "export intact: 12 entries" in r.output and "checkpoints: 3 verified" in r.output
    r = verify(runner, "--from-checkpoint", str(out))
    assert r.exit_code == 0 and "taken from the file itself" in r.output
    wrong = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    r = verify(runner, "--from-checkpoint", str(out), "--public-key", wrong)
    assert r.exit_code == 1 and "BROKEN at line 1" in r.output


def test_any_changed_byte_of_an_export_is_found(runner, signed, tmp_path):
    out = tmp_path / "ledger.jsonl"
    runner.invoke(args=["ledger", "export", str(out)])
    data = out.read_bytes()
    key = keys.existing_public_key_bytes(_app[0].instance_path)
    assert offline.verify_export(data.splitlines(keepends=True), key)["problem"] is None
    for i in range(len(data)):
        for mask in (0x01, 0x20):
            changed = data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]
            result = offline.verify_export(changed.splitlines(keepends=True), key)
            assert result["problem"] is not None, (i, data[max(0, i - 30):i + 30])
    # so is a dropped entry (a dropped checkpoint only leaves fewer checkpoints verified)
    lines = data.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(b'{"entry"'):
            assert offline.verify_export(lines[:i] + lines[i + 1:], key)["problem"] is not None, i


def test_a_tampered_export_fails_on_the_command_line(runner, signed, tmp_path):
    out = tmp_path / "ledger.jsonl"
    runner.invoke(args=["ledger", "export", str(out)])
    lines = out.read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b'"test.event"', b'"test.evenT"')
    out.write_bytes(b"".join(lines))
    r = verify(runner, "--from-checkpoint", str(out))
    assert r.exit_code == 1 and "BROKEN at line 6 (entry 4" in r.output


def test_certificate_checks_need_real_registrations_too(quiet, api):
    """Registrations are entries like any other: each has a proof once checkpointed."""
    data = register_payload()
    user_id = api().post("/auth/register", data).get_json()["user_id"]
    cp = checkpoint()
    me = api(data["phone"], data["password"])
    seq = rows("SELECT seq FROM ledger_entries WHERE kind = 'account.registered' AND subject_id = :u", u=user_id)[0]["seq"]
    p = me.get(f"/ledger/entries/{seq}/proof?tree_size={cp['tree_size']}").get_json()
    assert p["entry"]["payload"]["user_id"] == user_id and api_md_inclusion_ok(p, cp["root_hash"])


@pytest.mark.parametrize("text", ["{RPlW90lc/SesXwnwpXhYikAYre8Vr+9Ww87nbbQqEc=", "{}", '{"algorithm": "rsa"}', "[1]",
                                  "{[", "not base64!", "AAAA"])
def test_a_public_key_that_cannot_be_read_is_refused_with_a_reason(text):
    # A base64 key starting with "z" becomes "{" with one bit flipped: that once escaped as a JSON error.
    with pytest.raises(offline.Invalid) as e:
        offline.load_public_key(text)
    assert str(e.value)
