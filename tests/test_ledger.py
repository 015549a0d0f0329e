"""The training ledger: what goes in, that the database keeps it append-only, and that verify finds tampering."""
import json
import re
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import exc, func, select, text

from models import LedgerEntry, LedgerHead
from tracker import ledger
from tracker.db import guard_sql, unguard_sql
from tracker.extensions import db
from tracker.ledger.chain import GENESIS, canonical_json, entry_body, entry_hash, verify_chain

from tests.conftest import register_payload


def entries(kind=None):
    with db.transaction() as s:
        q = select(LedgerEntry).order_by(LedgerEntry.seq)
        if kind:
            q = q.where(LedgerEntry.kind == kind)
        return s.scalars(q).all()


def head():
    with db.transaction() as s:
        h = s.get(LedgerHead, 1)
        return h.seq, h.hash


def append_n(n, kind="test.event"):
    with db.transaction() as s:
        for i in range(n):
            ledger.append(s, kind, {"n": i, "text": f"第{i}条"}, actor_id=i, subject_id=None)


def verify(runner):
    return runner.invoke(args=["ledger", "verify"])


def assert_broken_at(runner, seq):
    r = verify(runner)
    assert r.exit_code != 0, r.output
    m = re.search(r"BROKEN at entry (\d+)", r.output)
    assert m, r.output
    assert int(m.group(1)) == seq, r.output
    return r


def tamper(*statements):
    """Raw SQL on ledger_entries with its append-only triggers dropped for the moment, then restored."""
    with db.engine.begin() as conn:
        dialect = conn.dialect.name
        for stmt in unguard_sql(dialect, "ledger_entries"):
            conn.execute(text(stmt))
        for stmt, params in statements:
            conn.execute(text(stmt), params)
        for stmt in guard_sql(dialect, "ledger_entries"):
            conn.execute(text(stmt))


def row(seq):
    with db.transaction() as s:
        return dict(s.execute(select(LedgerEntry.__table__).where(LedgerEntry.seq == seq)).mappings().one())


# --- what goes in -------------------------------------------------------------------------------------------


def test_registration_and_login_are_recorded(app, api):
    data = register_payload()
    user_id = api().post("/auth/register", data).get_json()["user_id"]
    api(data["phone"], data["password"])
    kinds = [(e.kind, e.subject_id) for e in entries()]
    assert kinds == [("account.registered", user_id), ("consent.face", user_id), ("account.login", user_id)]
    registered = json.loads(entries("account.registered")[0].payload)
    assert registered["user_id"] == user_id and registered["name"] == data["name"]
    assert registered["id_mask"] == data["id_number"][:6] + "********" + data["id_number"][-4:]
    assert len(registered["id_digest"]) == 64
    consent = json.loads(entries("consent.face")[0].payload)
    assert consent["given"] is True and consent["version"]
    login = json.loads(entries("account.login")[0].payload)
    assert login == {"user_id": user_id, "via": "api", "address": "127.0.0.1"}
    assert all(e.actor_id == user_id for e in entries())


def test_web_login_is_recorded(app, api, client):
    data = register_payload()
    api().post("/auth/register", data)
    client.post("/login", data={"username": data["phone"], "password": data["password"]})
    assert json.loads(entries("account.login")[-1].payload)["via"] == "web"


def test_failed_login_is_not_a_ledger_entry(app, api):
    data = register_payload()
    api().post("/auth/register", data)
    before = len(entries())
    assert api().post("/auth/token", {"username": data["phone"], "password": "Wrong1234"}).status_code == 400
    assert len(entries()) == before


def test_role_grants_are_recorded(app, demo):
    granted = {json.loads(e.payload)["user_id"]: json.loads(e.payload) for e in entries("role.granted")}
    for a in demo["accounts"]:
        assert granted[a["user_id"]]["role"] == a["role"]
    staff = next(a for a in demo["accounts"] if a["role"] == "staff")
    regulator = next(a for a in demo["accounts"] if a["role"] == "regulator")
    assert granted[staff["user_id"]]["institution_id"] == demo["classes"][0]["institution_id"]
    assert granted[regulator["user_id"]]["region_code"] == "150100"


def test_ledger_never_holds_a_whole_id_number_or_phone(app, demo, api):
    data = register_payload()
    api().post("/auth/register", data)
    staff = next(a for a in demo["accounts"] if a["role"] == "staff")
    api(staff["username"]).post(f"/classes/{demo['classes'][0]['class_id']}/roster", {"id_number": data["id_number"]})
    api(data["id_number"], data["password"])
    secrets = [data["id_number"], data["phone"]] + [a["id_number"] for a in demo["accounts"] if a["id_number"]]
    assert {"account.registered", "consent.face", "role.granted", "account.login", "roster.added"} <= {e.kind for e in entries()}
    for e in entries():
        for secret in secrets:
            assert secret not in e.payload, (e.kind, secret)
            assert secret.lower() not in e.payload


# --- append-only in the database ------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_entries SET kind = 'forged' WHERE seq = 2",
    "UPDATE ledger_entries SET payload = '{}'",
    "UPDATE ledger_entries SET seq = seq + 100 WHERE seq = 3",
    "DELETE FROM ledger_entries WHERE seq = 2",
    "DELETE FROM ledger_entries",
])
def test_database_refuses_update_and_delete(app, runner, sql):
    append_n(3)
    before = [(e.seq, e.kind, e.payload, e.hash) for e in entries()]
    with pytest.raises(exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text(sql))
    assert [(e.seq, e.kind, e.payload, e.hash) for e in entries()] == before
    assert verify(runner).exit_code == 0


def test_database_refuses_truncate_on_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    append_n(2)
    with pytest.raises(exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE ledger_entries"))
    assert len(entries()) == 2


def test_orm_cannot_change_an_entry_either(app):
    append_n(2)
    with pytest.raises(exc.DBAPIError):
        with db.transaction() as s:
            s.get(LedgerEntry, 1).kind = "forged"
    assert entries()[0].kind == "test.event"


# --- tracker ledger verify ---------------------------------------------------------------------------------------


def test_verify_intact_prints_count_and_head(app, runner, demo):
    r = verify(runner)
    assert r.exit_code == 0, r.output
    seq, digest = head()
    assert seq == len(entries()) > 0
    assert f"{seq} entries" in r.output and digest in r.output


def test_verify_empty_ledger(app, runner):
    r = verify(runner)
    assert r.exit_code == 0 and "0 entries" in r.output and GENESIS in r.output


N = 6


@pytest.fixture
def six(app):
    append_n(N)
    return [row(i) for i in range(1, N + 1)]


def test_verify_catches_an_edited_payload(app, runner, six):
    tamper(("UPDATE ledger_entries SET payload = :p WHERE seq = 3", {"p": canonical_json({"n": 99, "text": "第2条"}).decode()}))
    assert_broken_at(runner, 3)


def test_verify_catches_a_non_canonical_payload(app, runner, six):
    # Same object, different bytes: the hash was taken over the canonical form.
    tamper(("UPDATE ledger_entries SET payload = :p WHERE seq = 4", {"p": json.dumps(json.loads(six[3]["payload"]))}))
    assert_broken_at(runner, 4)


def test_verify_catches_an_edited_ts(app, runner, six):
    tamper(("UPDATE ledger_entries SET ts = :ts WHERE seq = 2", {"ts": "2020-01-01T00:00:00.000000Z"}))
    assert_broken_at(runner, 2)


@pytest.mark.parametrize("column,value", [("kind", "forged"), ("actor_id", 12345), ("subject_id", 7),
                                          ("prev_hash", "f" * 64), ("hash", "e" * 64)])
def test_verify_catches_any_edited_column(app, runner, six, column, value):
    tamper((f"UPDATE ledger_entries SET {column} = :v WHERE seq = 5", {"v": value}))
    assert_broken_at(runner, 5)


def test_verify_catches_an_edited_entry_rehashed(app, runner, six):
    """Recomputing the edited entry's own hash does not help: the next entry's link breaks."""
    r = six[2]
    body = entry_body(3, r["ts"], "forged", r["actor_id"], r["subject_id"], {"n": 2}, r["prev_hash"])
    tamper(("UPDATE ledger_entries SET kind = 'forged', payload = :p, hash = :h WHERE seq = 3",
            {"p": canonical_json({"n": 2}).decode(), "h": entry_hash(body)}))
    assert_broken_at(runner, 4)


def test_verify_catches_a_deleted_middle_entry(app, runner, six):
    tamper(("DELETE FROM ledger_entries WHERE seq = 3", {}))
    r = assert_broken_at(runner, 3)
    assert "2 entries verified" in r.output


def test_verify_catches_a_deleted_first_entry(app, runner, six):
    tamper(("DELETE FROM ledger_entries WHERE seq = 1", {}))
    assert_broken_at(runner, 1)


def test_verify_catches_a_deleted_last_entry(app, runner, six):
    tamper(("DELETE FROM ledger_entries WHERE seq = :s", {"s": N}))
    assert_broken_at(runner, N)


def test_verify_catches_a_deleted_tail(app, runner, six):
    tamper(("DELETE FROM ledger_entries WHERE seq >= 4", {}))
    assert_broken_at(runner, 4)


def forged(seq, prev_hash, kind="account.registered", payload=None):
    payload = payload or {"forged": True}
    body = entry_body(seq, "2026-11-01T00:00:00.000000Z", kind, None, None, payload, prev_hash)
    return {"seq": seq, "ts": body["ts"], "kind": kind, "actor_id": None, "subject_id": None,
            "payload": canonical_json(payload).decode(), "prev_hash": prev_hash, "hash": entry_hash(body)}


INSERT = ("INSERT INTO ledger_entries (seq, ts, kind, actor_id, subject_id, payload, prev_hash, hash) "
          "VALUES (:seq, :ts, :kind, :actor_id, :subject_id, :payload, :prev_hash, :hash)")


def test_verify_catches_an_entry_appended_behind_the_heads_back(app, runner, six):
    """A well-chained entry added at the end with raw SQL: only the head row knows it is not ours."""
    tamper((INSERT, forged(N + 1, six[-1]["hash"])))
    assert_broken_at(runner, N + 1)


def test_verify_catches_a_replaced_last_entry(app, runner, six):
    tamper(("DELETE FROM ledger_entries WHERE seq = :s", {"s": N}), (INSERT, forged(N, six[-2]["hash"])))
    assert_broken_at(runner, N)


def test_verify_catches_an_inserted_middle_entry(app, runner, six):
    """Entries 3.. renumbered one up and a forged entry put in at 3 (sloppily: its own hash is wrong)."""
    bad = dict(forged(3, six[1]["hash"]), hash="a" * 64)
    tamper(("UPDATE ledger_entries SET seq = -seq WHERE seq >= 3", {}),
           ("UPDATE ledger_entries SET seq = 1 - seq WHERE seq < 0", {}), (INSERT, bad))
    assert_broken_at(runner, 3)


def test_verify_catches_a_well_chained_inserted_middle_entry(app, runner, six):
    """The forged entry at 3 links correctly to 2, so the first entry that no longer verifies is the next one."""
    tamper(("UPDATE ledger_entries SET seq = -seq WHERE seq >= 3", {}),
           ("UPDATE ledger_entries SET seq = 1 - seq WHERE seq < 0", {}), (INSERT, forged(3, six[1]["hash"])))
    assert_broken_at(runner, 4)


def test_verify_catches_two_entries_swapped(app, runner, six):
    tamper(("UPDATE ledger_entries SET seq = -2 WHERE seq = 2", {}), ("UPDATE ledger_entries SET seq = 2 WHERE seq = 5", {}),
           ("UPDATE ledger_entries SET seq = 5 WHERE seq = -2", {}))
    assert_broken_at(runner, 2)


def test_verify_catches_an_edited_head(app, runner, six):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET seq = seq - 1 WHERE id = 1"))
    r = verify(runner)
    assert r.exit_code != 0 and "BROKEN" in r.output


def test_appends_after_verify_keep_the_chain(app, runner, demo):
    assert verify(runner).exit_code == 0
    append_n(3)
    assert verify(runner).exit_code == 0
    es = entries()
    assert [e.seq for e in es] == list(range(1, len(es) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(es, es[1:]))


def test_a_rolled_back_unit_of_work_leaves_no_entry(app, runner):
    append_n(2)
    with pytest.raises(RuntimeError):
        with db.transaction() as s:
            ledger.append(s, "test.event", {"lost": True})
            raise RuntimeError("the caller's work failed")
    assert len(entries()) == 2 and head()[0] == 2
    append_n(1)
    assert [e.seq for e in entries()] == [1, 2, 3]
    assert verify(runner).exit_code == 0


# --- concurrency ------------------------------------------------------------------------------------------------


def test_a_snapshot_sees_one_state_and_makes_no_writer_wait(app):
    """What `ledger verify` and `export` read in: appends go on meanwhile and stay out of the reader's view."""
    append_n(2)
    with app.app_context():
        with db.snapshot() as s:
            before = s.scalar(text("SELECT count(*) FROM ledger_entries"))
            done = threading.Event()

            def writer():
                with app.app_context():
                    append_n(1)
                done.set()

            threading.Thread(target=writer, daemon=True).start()
            assert done.wait(5), "an append waited for the reading snapshot"
            assert s.scalar(text("SELECT count(*) FROM ledger_entries")) == before == 2
        try:
            with db.snapshot() as s:
                ledger.append(s, "test.event", {"x": 1})
                s.flush()
        except exc.DBAPIError:  # PostgreSQL refuses a write in a read-only transaction
            assert db.engine.dialect.name == "postgresql"
    assert len(entries()) == 3  # and SQLite's is rolled back with the snapshot



def test_concurrent_appends_keep_one_chain(app, runner):
    append_n(1)
    start_seq = head()[0]
    threads, per_thread, errors = 8, 25, []
    barrier = threading.Barrier(threads)

    def work(t):
        try:
            barrier.wait()
            for i in range(per_thread):
                with db.transaction() as s:
                    ledger.append(s, "test.concurrent", {"thread": t, "i": i}, actor_id=t)
        except BaseException as e:  # reported below; a thread's exception would otherwise be lost
            errors.append(e)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(60)
    assert not errors, errors
    es = entries()
    new = [e for e in es if e.kind == "test.concurrent"]
    assert len(new) == threads * per_thread
    assert [e.seq for e in es] == list(range(1, start_seq + threads * per_thread + 1))
    assert len({e.prev_hash for e in es}) == len(es)
    assert all(b.prev_hash == a.hash for a, b in zip(es, es[1:]))
    # Every thread's entries are there, each once.
    assert sorted((json.loads(e.payload)["thread"], json.loads(e.payload)["i"]) for e in new) == \
        [(t, i) for t in range(threads) for i in range(per_thread)]
    r = verify(runner)
    assert r.exit_code == 0, r.output
    assert f"{start_seq + threads * per_thread} entries" in r.output


# --- verify_chain on synthetic rows ----------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8)
payloads = st.dictionaries(st.text(max_size=6), json_scalars | st.lists(json_scalars, max_size=3), max_size=3)


def build_chain(specs):
    rows, prev = [], GENESIS
    for seq, (ts, kind, actor, subject, payload) in enumerate(specs, 1):
        body = entry_body(seq, ts, kind, actor, subject, payload, prev)
        digest = entry_hash(body)
        rows.append({"seq": seq, "ts": ts, "kind": kind, "actor_id": actor, "subject_id": subject,
                     "payload": canonical_json(payload).decode("utf-8"), "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


entry_specs = st.tuples(
    st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=12),
    st.none() | st.integers(0, 10**9), st.none() | st.integers(0, 10**9), payloads,
)


@settings(max_examples=50, database=None, deadline=None)
@given(specs=st.lists(entry_specs, min_size=1, max_size=6))
def test_property_an_untouched_chain_verifies(specs):
    rows = build_chain(specs)
    count, head_hash, bad, reason = verify_chain(rows)
    assert (count, head_hash, bad, reason) == (len(rows), rows[-1]["hash"], None, None)


def _changed(field, old, data):
    """A value for `field` different from `old`."""
    if field == "seq":
        strategy = st.integers(-5, 50)
    elif field in ("actor_id", "subject_id"):
        strategy = st.none() | st.integers(0, 10**9)
    elif field in ("prev_hash", "hash"):
        strategy = st.text("0123456789abcdef", min_size=64, max_size=64)
    elif field == "payload":
        strategy = payloads.map(lambda p: canonical_json(p).decode("utf-8")) | st.text(max_size=20)
    else:
        strategy = st.text(max_size=30)
    return data.draw(strategy.filter(lambda v: v != old and not (isinstance(v, bool) or isinstance(old, bool))), label=field)


@settings(max_examples=300, database=None, deadline=None)
@given(specs=st.lists(entry_specs, min_size=1, max_size=6), data=st.data())
def test_property_any_single_field_change_is_caught_at_its_seq(specs, data):
    rows = build_chain(specs)
    i = data.draw(st.integers(0, len(rows) - 1), label="index")
    field = data.draw(st.sampled_from(["seq", "ts", "kind", "actor_id", "subject_id", "payload", "prev_hash", "hash"]), label="field")
    rows[i] = dict(rows[i], **{field: _changed(field, rows[i][field], data)})
    count, _head, bad, reason = verify_chain(rows)
    assert bad == i + 1, (field, reason)
    assert count == i and reason


@settings(max_examples=50, database=None, deadline=None)
@given(specs=st.lists(entry_specs, min_size=2, max_size=6), data=st.data())
def test_property_a_dropped_or_swapped_entry_is_caught(specs, data):
    rows = build_chain(specs)
    i = data.draw(st.integers(0, len(rows) - 2), label="index")
    dropped = rows[:i] + rows[i + 1:]
    assert verify_chain(dropped)[2] == i + 1
    swapped = list(rows)
    swapped[i], swapped[i + 1] = dict(rows[i + 1], seq=i + 1), dict(rows[i], seq=i + 2)
    assert verify_chain(swapped)[2] == i + 1
