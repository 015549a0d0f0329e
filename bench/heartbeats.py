"""Heartbeat throughput and acknowledgement latency of a live `tracker serve`, over Socket.IO.

N simulated trainees, each a real python-socketio client over WebSocket on loopback with its own token and
learning session, send heartbeats on namespace /learn and time each acknowledgement. The trainees are
registered, put on the demo class's roster and logged in through the HTTP API; their clients are spread over
a few processes (one thread each), so that the load generator is not held to one core by the GIL.
Two modes per database:

- paced: every client heartbeats at a fixed real interval (clients / rate), so that together they offer the
  target rate; latency is timed from the send and also from the scheduled time (so a server that falls
  behind cannot hide it by delaying the next send);
- closed: every client sends its next heartbeat as soon as the previous one is acknowledged: the ceiling.

Afterwards the bench waits until the server has stopped writing (a heartbeat whose client gave up after the
10 s acknowledgement timeout may still be queued for SQLite's write lock), ends every session (which seals
its heartbeats) and reads the `heartbeats` table directly:
"lost" counts acknowledged heartbeats without a row (must be 0), "unsealed" rows not covered by a
`heartbeats.sealed` ledger entry (must be 0); then `tracker ledger verify` must pass. The exit status is 1
when any of these fails (not when the performance goal is missed). No prompts and no photo checks are asked
(TRACKER_ATTENTION_MEAN=0, TRACKER_PHOTO_CHECK_MEAN=0, photo checks off for the demo class).

Positions: the client claims the real time elapsed since its first heartbeat × TRACKER_CLOCK_SCALE (default
scale 1), so every stretch is credited and each heartbeat does the full work of a credited one (heartbeat
row, progress, daily credit, session); the server then sees gaps of clients / rate seconds instead of 15 s,
which the crediting rule treats alike. With --scale 300 and a 0.05 s real interval the server would see 15 s
gaps, but a 150 s chapter is complete after ~11 heartbeats, and every 25 ms of queueing becomes 7.5 server
seconds (the rule's lag tolerance), so under load most heartbeats end up refused (beyond_furthest,
gap_too_long): still recorded decisions, but no longer the credited path. The "credited" column and the
list of reasons show what the server decided.

SQLite always; PostgreSQL too when TRACKER_BENCH_PG_URL (or TRACKER_DATABASE_URL) is a postgresql URL,
e.g. after `make pg-start`. Run: `.venv/bin/python bench/heartbeats.py --help`. With --profile PREFIX the
server is sampled by py-spy (`.venv/bin/pip install py-spy`; not a project dependency) with --gil, i.e. where
the threads holding the GIL spend it, into PREFIX-<database>-<run>.txt (collapsed stacks).
"""
import argparse
import inspect
import json
import multiprocessing
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402
from sqlalchemy import bindparam, create_engine, text  # noqa: E402

from tests.live import LiveServer  # noqa: E402
from tracker.accounts.rules import id_check_digit  # noqa: E402

PASSWORD = "Bench1234"
INTERVAL = 15  # the server's configured heartbeat interval (its crediting limits derive from it)
CALL_TIMEOUT = 10.0
GOAL_RATE, GOAL_P99_MS = 2000, 50.0


# ---------------------------------------------------------------- machine and measurement helpers

def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    versions = []
    for dist in ("Flask", "Flask-SocketIO", "python-socketio", "python-engineio", "simple-websocket", "Werkzeug",
                 "websocket-client", "SQLAlchemy", "psycopg"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "tracker", "models"],
                               capture_output=True, text=True)
        code = head.stdout.strip() or "not a git checkout"
        if head.returncode == 0 and dirty.stdout.strip():
            code += f" + {len(dirty.stdout.splitlines())} uncommitted files in tracker/ and models/"
    except OSError:
        code = "git not found"
    return {"code": code, "cores": len(os.sched_getaffinity(0)), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "os": platform.platform(),
            "packages": ", ".join(versions)}


def proc_cpu_seconds(pid, which=(11, 12)):
    """CPU seconds of one process (all its threads): user + system, or (11,) user, (12,) system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in which) / os.sysconf("SC_CLK_TCK")


def postgres_cpu():
    """CPU seconds per process named postgres (the bench's cluster, and any other running on the machine)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
            if line[line.index("(") + 1:line.rindex(")")] == "postgres":
                out[stat.parent.name] = proc_cpu_seconds(stat.parent.name)
        except (OSError, ValueError):
            continue
    return out


def machine_busy_seconds():
    """CPU seconds all cores spent busy (everything but idle and iowait) since boot."""
    vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]  # guest time is in user
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


# ---------------------------------------------------------------- setting up trainees

def id_number(i):
    body = "150102" + (date(1970, 1, 1) + timedelta(days=i * 7)).strftime("%Y%m%d") + f"{500 + i % 500:03d}"
    return body + id_check_digit(body)


def api(url, method, path, token=None, **kw):
    headers = {"Authorization": "Bearer " + token} if token else {}
    r = requests.request(method, url + "/api/v1" + path, headers=headers, timeout=60, **kw)
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def enrol_trainees(srv, n, workers):
    """Register n trainees through the API, put them on the demo class's roster, and log each one in."""
    staff = srv.token(srv.account("staff")["username"])
    class_id = srv.demo["classes"][0]["class_id"]

    def one(i):
        idn, phone = id_number(i), f"1370{i:07d}"
        api(srv.url, "POST", "/auth/register", json={
            "name": f"压测学员{i}", "id_number": idn, "phone": phone, "category": "企业职工",
            "employer": "压测企业", "password": PASSWORD, "face_consent": True})
        api(srv.url, "POST", f"/classes/{class_id}/roster", staff, json={"id_number": idn})
        return api(srv.url, "POST", "/auth/token", json={"username": phone, "password": PASSWORD})["token"]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


# ---------------------------------------------------------------- one simulated trainee (in a client process)

class Trainee:
    def __init__(self, url, token):
        self.url, self.token = url, token
        self.client = socketio.Client(reconnection=False)
        self.client.connect(url, namespaces=["/learn"], auth={"token": token}, transports=["websocket"],
                            wait_timeout=20)

    def start(self, chapter_id, chapter_seconds):
        body = api(self.url, "POST", "/sessions", self.token, json={"chapter_id": chapter_id})
        self.session_id, self.resume = body["session_id"], body["resume_position"]
        self.chapter_seconds, self.seq, self.t0 = chapter_seconds, 0, None  # playback starts with the first beat
        self.samples = []  # (t_due, t_send, t_ack, credited) of acknowledged heartbeats
        self.acked_seqs, self.errors, self.reasons = [], {}, {}

    def beat(self, scale, t_due):
        self.seq += 1
        t_send = time.time()
        self.t0 = self.t0 or t_send
        position = min(self.chapter_seconds, self.resume + (t_send - self.t0) * scale)
        data = {"session_id": self.session_id, "seq": self.seq, "position": round(position, 3), "rate": 1.0,
                "playing": True, "visible": True, "focused": True, "client_time": t_send,
                "env": {"ua": "bench/heartbeats.py", "webdriver": False}}
        try:
            answer = self.client.call("heartbeat", data, namespace="/learn", timeout=CALL_TIMEOUT)
        except socketio.exceptions.TimeoutError:
            self.errors["timeout"] = self.errors.get("timeout", 0) + 1
            return
        except socketio.exceptions.SocketIOError as e:
            self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
            time.sleep(0.1)  # a dropped connection: do not spin
            return
        t_ack = time.time()
        if not isinstance(answer, dict) or "error" in answer:
            code = answer["error"].get("code", "?") if isinstance(answer, dict) else "bad_answer"
            self.errors[code] = self.errors.get(code, 0) + 1
            return
        self.acked_seqs.append(self.seq)
        for reason in answer["reasons"] or ["-"]:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.samples.append((t_due if t_due is not None else t_send, t_send, t_ack, answer["credited_seconds"] > 0))

    def run(self, mode, t_start, t_end, interval, scale):
        """Heartbeat until t_end: paced on a fixed, randomly phased schedule (late beats go at once), or closed loop."""
        time.sleep(max(0.0, t_start - time.time()))
        if mode == "paced":
            t_due = t_start + random.random() * interval
            while t_due < t_end and time.time() < t_end:
                delay = t_due - time.time()
                if delay > 0:
                    time.sleep(delay)
                self.beat(scale, t_due)
                t_due += interval
        else:
            while time.time() < t_end:
                self.beat(scale, None)

    def results(self):
        return {"session_id": self.session_id, "sent": self.seq, "acked_seqs": self.acked_seqs,
                "errors": self.errors, "reasons": self.reasons, "samples": self.samples}

    def end(self):
        api(self.url, "POST", f"/sessions/{self.session_id}/end", self.token)


def client_process(conn, url, tokens):
    """A process driving some of the trainees (one thread each), so that the clients are not held to one core."""
    trainees = []
    try:
        with ThreadPoolExecutor(8) as pool:
            trainees = list(pool.map(lambda tok: Trainee(url, tok), tokens))
        conn.send(("ready", len(trainees)))
        while True:
            cmd, arg = conn.recv()
            if cmd == "start":  # arg: (indices, chapter_id, chapter_seconds)
                active = [trainees[i] for i in arg[0]]
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda t: t.start(arg[1], arg[2]), active))
                conn.send(("started", len(active)))
            elif cmd == "run":  # arg: (mode, t_start, t_end, interval, scale)
                threads = [threading.Thread(target=t.run, args=arg, daemon=True) for t in active]
                for th in threads:
                    th.start()
                deadline = arg[2] + CALL_TIMEOUT + 5
                for th in threads:
                    th.join(max(0.0, deadline - time.time()))
                stuck = sum(th.is_alive() for th in threads)
                conn.send(("done", {"stuck": stuck, "trainees": [t.results() for t in active]}))
            elif cmd == "end":
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda t: t.end(), active))
                conn.send(("ended", len(active)))
            else:
                break
    except Exception as e:  # report, do not hang the parent
        conn.send(("failed", f"{type(e).__name__}: {e}"))
    finally:
        disconnect_all([t.client for t in trainees])


def disconnect_all(clients):
    # websocket-client waits up to 3 s for each closing handshake: close them side by side, bounded.
    threads = [threading.Thread(target=c.disconnect, daemon=True) for c in clients]
    for t in threads:
        t.start()
    deadline = time.time() + 15
    for t in threads:
        t.join(max(0.0, deadline - time.time()))


class Fleet:
    """The simulated trainees, spread over client processes (trainee i lives in process i mod P)."""

    def __init__(self, url, tokens, procs):
        ctx = multiprocessing.get_context("spawn")
        self.procs, self.conns = [], []
        for w in range(procs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(child, url, tokens[w::procs]), daemon=True)
            proc.start()
            self.procs.append(proc)
            self.conns.append(parent)
        self._gather("ready", 120)

    def _gather(self, expect, timeout):
        out = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise RuntimeError(f"a client process did not answer ({expect}) within {timeout} s")
            kind, payload = conn.recv()
            if kind != expect:
                raise RuntimeError(f"client process: {kind} {payload}")
            out.append(payload)
        return out

    def start(self, k, chapter):
        """Open a learning session for each of the first k trainees."""
        n = len(self.conns)
        self.active = [list(range(len(range(w, k, n)))) for w in range(n)]  # local indices of global 0..k-1
        for conn, idx in zip(self.conns, self.active):
            conn.send(("start", (idx, chapter["chapter_id"], chapter["seconds"])))
        self._gather("started", 120)

    def run(self, mode, t_start, t_end, interval, scale):
        for conn, idx in zip(self.conns, self.active):
            if idx:
                conn.send(("run", (mode, t_start, t_end, interval, scale)))
        timeout = t_end - time.time() + CALL_TIMEOUT + 60
        out = {"stuck": 0, "trainees": []}
        for conn, idx in zip(self.conns, self.active):
            if idx:
                kind, payload = conn.recv() if conn.poll(timeout) else ("failed", "no answer")
                if kind != "done":
                    raise RuntimeError(f"client process: {kind} {payload}")
                out["stuck"] += payload["stuck"]
                out["trainees"] += payload["trainees"]
        return out

    def end(self):
        """End the sessions of the last run (which seals their heartbeats)."""
        for conn in self.conns:
            conn.send(("end", None))
        self._gather("ended", 120)

    def cpu_seconds(self):
        return sum(proc_cpu_seconds(p.pid) for p in self.procs if p.is_alive()) + proc_cpu_seconds(os.getpid())

    def close(self):
        for conn in self.conns:
            try:
                conn.send(("quit", None))
            except OSError:
                pass
        for p in self.procs:
            p.join(20)
            if p.is_alive():
                p.terminate()


# ---------------------------------------------------------------- one run (database × mode)

def quiesce(engine, session_ids, limit=45.0):
    """Wait until the server has stopped writing heartbeats of these sessions: a client that gave up waiting
    (timeout) may have left one queued for SQLite's write lock, for up to its 30 s busy timeout."""
    query = (text("SELECT count(*) FROM heartbeats WHERE session_id IN :ids")
             .bindparams(bindparam("ids", expanding=True)))
    deadline, last = time.time() + limit, None
    while time.time() < deadline:
        with engine.connect() as conn:
            count = conn.execute(query, {"ids": session_ids}).scalar()
        if count == last:
            return
        last = count
        time.sleep(1.0)


def check_recorded(engine, trainees):
    """Acknowledged heartbeats without a row (lost), rows the client never saw acknowledged, and rows not sealed."""
    recorded = {t["session_id"]: set() for t in trainees}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT session_id, seq FROM heartbeats WHERE session_id IN :ids")
                            .bindparams(bindparam("ids", expanding=True)), {"ids": list(recorded)})
        for sid, seq in rows:
            recorded[sid].add(seq)
        sealed = 0
        for (payload,) in conn.execute(text("SELECT payload FROM ledger_entries WHERE kind = 'heartbeats.sealed'")):
            p = json.loads(payload)
            if p["session_id"] in recorded:
                sealed += p["count"]
    rows = sum(len(v) for v in recorded.values())
    lost = sum(len(set(t["acked_seqs"]) - recorded[t["session_id"]]) for t in trainees)
    unacked = sum(len(recorded[t["session_id"]] - set(t["acked_seqs"])) for t in trainees)
    return {"rows": rows, "lost": lost, "recorded_not_acked": unacked, "unsealed": rows - sealed}


def profile_server(srv, args, label, seconds):
    """Sample the server's Python stacks with py-spy (pip install py-spy) over the measured window."""
    out = Path(f"{args.profile}-{srv.bench_kind}-{label}.txt")
    spy = str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen([spy, "record", "--format", "raw", "--nonblocking", "--gil", "--rate", "200", "--threads",
                             "-p", str(srv.proc.pid), "-d", str(max(1, int(seconds))), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_snapshot(srv, fleet):
    return {"server": proc_cpu_seconds(srv.proc.pid), "server_system": proc_cpu_seconds(srv.proc.pid, (12,)),
            "clients": fleet.cpu_seconds(),
            "postgres": postgres_cpu(), "machine": machine_busy_seconds(), "t": time.time()}


def run_mode(srv, engine, fleet, mode, rate, k, args, chapter):
    interval = k / rate if mode == "paced" else 0.0
    fleet.start(k, chapter)
    t_start = time.time() + 0.5
    t_measure, t_end = t_start + args.warmup, t_start + args.warmup + args.duration
    cpu = {}

    def measure():  # CPU over the measured window only, from a thread while the fleet runs
        time.sleep(max(0.0, t_measure - time.time()))
        cpu0 = cpu_snapshot(srv, fleet)
        spy = profile_server(srv, args, f"{mode}{rate or k}", t_end - time.time()) if args.profile else None
        time.sleep(max(0.0, t_end - time.time()))
        cpu1 = cpu_snapshot(srv, fleet)
        wall = cpu1["t"] - cpu0["t"]
        cpu.update({key: (cpu1[key] - cpu0[key]) / wall for key in ("server", "server_system", "clients", "machine")})
        cpu["postgres"] = sum(v - cpu0["postgres"].get(pid, 0.0) for pid, v in cpu1["postgres"].items()) / wall
        cpu["others"] = max(0.0, cpu["machine"] - cpu["server"] - cpu["clients"] - cpu["postgres"])
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()

    meter = threading.Thread(target=measure, daemon=True)
    meter.start()
    out = fleet.run(mode, t_start, t_end, interval, args.scale)
    meter.join(60)
    trainees = out["trainees"]
    quiesce(engine, [t["session_id"] for t in trainees])
    fleet.end()
    integrity = check_recorded(engine, trainees)

    window = [s for t in trainees for s in t["samples"] if t_measure <= s[1] < t_end]
    lat = sorted((ack - send) * 1000 for _due, send, ack, _c in window)
    lat_due = sorted((ack - due) * 1000 for due, _send, ack, _c in window)
    errors, reasons = {}, {}
    for t in trainees:
        for key, v in t["errors"].items():
            errors[key] = errors.get(key, 0) + v
        for key, v in t["reasons"].items():
            reasons[key] = reasons.get(key, 0) + v
    return {
        "mode": mode, "target": rate if mode == "paced" else None, "clients": k, "interval_ms": interval * 1000,
        "sent": sum(t["sent"] for t in trainees), "acked": sum(len(t["acked_seqs"]) for t in trainees),
        "errors": errors, "reasons": reasons, "stuck_threads": out["stuck"],
        "rate": len(window) / args.duration, "p50": percentile(lat, 50), "p95": percentile(lat, 95),
        "p99": percentile(lat, 99), "max": lat[-1] if lat else float("nan"), "p99_due": percentile(lat_due, 99),
        "credited": sum(1 for s in window if s[3]) / len(window) if window else 0.0, "cpu": cpu, **integrity,
    }


def bench_database(kind, pg_url, args, videos, tmp):
    """Start a server on one database, enrol the trainees, run every mode, check the records and the ledger."""
    saved = os.environ.pop("TRACKER_DATABASE_URL", None)
    if kind == "postgresql":
        os.environ["TRACKER_DATABASE_URL"] = pg_url  # LiveServer makes a database of its own on this server
    # No prompts and no photo checks: this measures the heartbeat path alone.
    # Rate limits off: every simulated trainee registers from the one loopback address.
    env = {"TRACKER_CLOCK_SCALE": args.scale, "TRACKER_HEARTBEAT_INTERVAL": INTERVAL, "TRACKER_ATTENTION_MEAN": 0,
           "TRACKER_PHOTO_CHECK_MEAN": 0, "TRACKER_RATELIMIT_ENABLED": 0}
    if "photo_checks" in inspect.signature(LiveServer).parameters:
        env["photo_checks"] = False  # the demo class then asks for no sign-in photo either
    out = {"database": kind, "runs": []}
    fleet = srv = None
    try:
        t0 = time.time()
        srv = LiveServer(Path(tmp) / kind, videos, **env)
        srv.bench_kind = kind
        url = srv.env.get("TRACKER_DATABASE_URL") or f"sqlite:///{srv.instance / 'tracker.sqlite3'}"
        engine = create_engine(url)
        with engine.connect() as conn:
            out["server_version"] = (conn.execute(text("SELECT version()")).scalar() if kind == "postgresql"
                                     else "SQLite " + conn.execute(text("SELECT sqlite_version()")).scalar())
        t1 = time.time()
        tokens = enrol_trainees(srv, args.clients, args.setup_workers)
        t2 = time.time()
        fleet = Fleet(srv.url, tokens, min(args.client_procs, args.clients))
        out["setup"] = {"server_start_s": t1 - t0, "enrol_s": t2 - t1, "connect_s": time.time() - t2}
        chapters = srv.demo["classes"][0]["chapters"]
        runs = [("paced", r, args.clients) for r in args.rates] + [("closed", None, k) for k in args.closed]
        for n, (mode, rate, k) in enumerate(runs):
            r = run_mode(srv, engine, fleet, mode, rate, k, args, chapters[n % len(chapters)])
            out["runs"].append(r)
            print(f"  {kind} {mode} {rate or ''} {k} clients: {r['rate']:.0f} hb/s, p99 {r['p99']:.1f} ms, "
                  f"errors {sum(r['errors'].values())}, lost {r['lost']}", file=sys.stderr, flush=True)
        t3 = time.time()
        verify = srv.tracker("ledger", "verify")
        lines = (verify.stdout + verify.stderr).strip().splitlines() or ["(no output)"]
        out["verify"] = {"ok": verify.returncode == 0, "seconds": time.time() - t3,
                         "text": lines[0] if verify.returncode == 0 else " / ".join(lines[-3:])}
        engine.dispose()
    finally:
        if fleet is not None:
            fleet.close()
        if srv is not None:
            srv.stop()
            out["server_tracebacks"] = Path(srv.log.name).read_text(errors="replace").count("Traceback")
        if saved is None:
            os.environ.pop("TRACKER_DATABASE_URL", None)
        else:
            os.environ["TRACKER_DATABASE_URL"] = saved
    return out


def tiny_videos(folder):
    """Stand-ins for the demo's two chapter videos (rendering the real ones takes ~10 s; their length is not read)."""
    import cv2
    import numpy as np

    paths = []
    saved = os.dup(2)
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # FFmpeg's harmless complaint about the VP80 tag in WebM
        for n in (1, 2):
            path = Path(folder) / f"demo-ch{n}.webm"
            w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 1, (64, 36))
            w.write(np.zeros((36, 64, 3), np.uint8))
            w.release()
            paths.append(path)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return paths


# ---------------------------------------------------------------- report

def report(info, args, results):
    """Print the Markdown report; True when nothing was lost or unsealed and every ledger verified."""
    closed = ", ".join(str(k) for k in args.closed)
    print("# Heartbeat bench (bench/heartbeats.py)\n")
    print(f"- machine: {info['cores']} cores, {info['cpu']}, {info['ram_gib']} GiB RAM; {info['os']}; "
          f"load average at start {info['loadavg']}")
    print(f"- code: {info['code']}")
    print(f"- Python {info['python']}, SQLite {info['sqlite']}; {info['packages']}")
    print("- server: `tracker serve` (Werkzeug threaded + simple-websocket, Flask-SocketIO async_mode threading), "
          f"one process; the clients run in {args.client_procs} processes (one thread per client) on the same "
          "machine, over loopback")
    print(f"- parameters: {args.clients} trainees, each with its own WebSocket and learning session; paced runs at "
          f"{', '.join(str(r) for r in args.rates) or 'none'} hb/s in total; closed-loop runs with {closed or 'none'} "
          f"clients; {args.duration:g} s measured after {args.warmup:g} s warm-up per run; server "
          f"TRACKER_HEARTBEAT_INTERVAL {INTERVAL}, TRACKER_CLOCK_SCALE {args.scale:g}, TRACKER_ATTENTION_MEAN 0, "
          "TRACKER_PHOTO_CHECK_MEAN 0, no sign-in photo; "
          f"positions advance real time × scale; acknowledgement timeout {CALL_TIMEOUT:g} s")
    print(f"- goal: {GOAL_RATE} hb/s sustained with p99 < {GOAL_P99_MS:g} ms, no heartbeat lost\n")
    ok = True
    for res in results:
        s = res.get("setup", {})
        print(f"## {res['database']}: {res.get('server_version', '?').split(' on ')[0]}\n")
        print(f"setup: server {s.get('server_start_s', 0):.1f} s; {args.clients} trainees registered, enrolled and "
              f"logged in over HTTP {s.get('enrol_s', 0):.1f} s; sockets connected {s.get('connect_s', 0):.1f} s\n")
        print("| mode | clients | target hb/s | sent | acked | errors | lost | unsealed | sustained hb/s | p50 ms "
              "| p95 ms | p99 ms | max ms | p99 from due ms | credited | CPU server | server CPU ms/hb | CPU postgres "
              "| CPU clients | CPU others |")
        print("|" + "---|" * 20)
        for r in res["runs"]:
            errs = sum(r["errors"].values())
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items()))
            err_text = f"{errs} ({kinds})" if errs else "0"
            due = f"{r['p99_due']:.1f}" if r["mode"] == "paced" else "—"
            c = r["cpu"]
            print(f"| {r['mode']} | {r['clients']} | {r['target'] or '—'} | {r['sent']} | {r['acked']} | {err_text} "
                  f"| {r['lost']} | {r['unsealed']} | {r['rate']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} "
                  f"| {r['p99']:.1f} "
                  f"| {r['max']:.1f} | {due} | {r['credited']:.1%} | {c['server']:.0%} "
                  f"| {1000 * c['server'] / r['rate'] if r['rate'] else float('nan'):.1f} | "
                  f"{c['postgres']:.0%} | {c['clients']:.0%} | {c['others']:.0%} |")
            ok = ok and r["lost"] == 0 and r["unsealed"] == 0
        print("\ndecisions (reasons in the acknowledgements; \"-\" = credited in full):  ")
        for r in res["runs"]:
            top = sorted(r["reasons"].items(), key=lambda kv: -kv[1])
            print(f"{r['mode']} {r['target'] or r['clients']}: " + ", ".join(f"{k} {v}" for k, v in top) + "  ")
        notes = [f"{r['mode']} {r['target'] or r['clients']}: {r['recorded_not_acked']} heartbeats recorded whose "
                 f"acknowledgement never came (timeouts), {r['stuck_threads']} client threads still waiting at the end"
                 for r in res["runs"] if r["recorded_not_acked"] or r["stuck_threads"]]
        if notes:
            print()
        for note in notes:
            print(f"- {note}")
        v = res.get("verify", {})
        ok = ok and v.get("ok", False)
        print(f"\n`tracker ledger verify` ({v.get('seconds', 0):.1f} s): {v.get('text', 'not run')}  ")
        print(f"server log: {res.get('server_tracebacks', '?')} tracebacks  ")
        met = [r for r in res["runs"] if r["rate"] >= GOAL_RATE * 0.98 and r["p99"] < GOAL_P99_MS and r["lost"] == 0]
        print(f"goal ({GOAL_RATE} hb/s with p99 < {GOAL_P99_MS:g} ms): {'met' if met else 'not met'}\n")
    print("Latency is from send to acknowledgement; \"p99 from due\" counts from the time the heartbeat was due, "
          "so it includes waiting behind a slow previous acknowledgement. Sustained = acknowledged heartbeats sent in "
          "the measured window / its length. credited = share of them that earned time. lost = acknowledged without a "
          "row in `heartbeats`; unsealed = rows that no `heartbeats.sealed` ledger entry covers (after the sessions "
          "ended). CPU in cores (100% = one core) over the measured window; server CPU ms/hb = the server's CPU "
          "time per acknowledged heartbeat; \"others\" is whatever else ran on the machine meanwhile (a shared "
          "machine makes the numbers noisy).")
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=60, help="simulated trainees (default 60)")
    p.add_argument("--rates", default="100,2000",
                   help="paced runs: total target rates in heartbeats/s, comma-separated (default 100,2000)")
    p.add_argument("--closed", default="all",
                   help="closed-loop runs: numbers of clients, comma-separated; all = --clients (default; '' = none)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds per run before measuring (default 2)")
    p.add_argument("--scale", type=float, default=1.0, help="TRACKER_CLOCK_SCALE; positions advance real time × scale")
    p.add_argument("--databases", default="auto",
                   help="sqlite, postgresql or both comma-separated; auto = sqlite, plus postgresql when a URL is set")
    p.add_argument("--pg-url", default=None,
                   help="PostgreSQL server URL (default TRACKER_BENCH_PG_URL, else TRACKER_DATABASE_URL)")
    p.add_argument("--client-procs", type=int, default=2, help="processes the clients are spread over (default 2)")
    p.add_argument("--setup-workers", type=int, default=4, help="threads registering trainees (default 4)")
    p.add_argument("--profile", metavar="PREFIX",
                   help="record the server with py-spy (collapsed stacks) to PREFIX-<database>-<mode>.txt")
    p.add_argument("--json", dest="json_out", help="also write the raw results to this file")
    args = p.parse_args(argv)
    args.rates = [int(r) for r in args.rates.split(",") if r.strip()]
    args.closed = [args.clients if k.strip() == "all" else int(k) for k in args.closed.split(",") if k.strip()]
    if not (1 <= args.clients <= 2000) or args.duration <= 0 or any(r <= 0 for r in args.rates):
        p.error("clients 1..2000, duration and rates positive")
    if any(not 1 <= k <= args.clients for k in args.closed):
        p.error("closed-loop client counts must be between 1 and --clients")
    pg_url = args.pg_url or os.environ.get("TRACKER_BENCH_PG_URL") or os.environ.get("TRACKER_DATABASE_URL") or ""
    if args.databases == "auto":
        dbs = ["sqlite"] + (["postgresql"] if pg_url.startswith("postgresql") else [])
    else:
        dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    if "postgresql" in dbs and not pg_url.startswith("postgresql"):
        p.error("postgresql needs --pg-url, TRACKER_BENCH_PG_URL or TRACKER_DATABASE_URL (see `make pg-start`)")
    if not set(dbs) <= {"sqlite", "postgresql"}:
        p.error("databases: sqlite, postgresql")

    info = machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-heartbeats-") as tmp:
        videos = tiny_videos(tmp)
        for kind in dbs:
            print(f"bench/heartbeats.py: {kind}, {args.clients} clients ...", file=sys.stderr, flush=True)
            results.append(bench_database(kind, pg_url, args, videos, tmp))
    ok = report(info, args, results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine": info, "args": vars(args), "results": results}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
