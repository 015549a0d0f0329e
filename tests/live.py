"""A real server in a subprocess (`tracker serve`) on a free port, for Socket.IO and browser tests."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TRACKER = str(Path(sys.executable).parent / "tracker")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, tmp, videos=None, photo_checks=True, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = Path(tmp) / "instance"
        (self.instance / "media").mkdir(parents=True, exist_ok=True)
        for src in (videos or []):
            shutil.copy(src, self.instance / "media" / Path(src).name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        self.env.update({"TRACKER_INSTANCE": str(self.instance), "TRACKER_PORT": str(self.port)})
        self.env.update({k: str(v) for k, v in env.items()})
        self.pg_db = None
        base = os.environ.get("TRACKER_DATABASE_URL", "")
        if base.startswith("postgresql"):
            # A database of its own, so that per-test resets of the main test database cannot touch it.
            self.pg_db = "live_" + uuid.uuid4().hex[:10]
            self._admin(base, f"CREATE DATABASE {self.pg_db}")
            self.env["TRACKER_DATABASE_URL"] = make_url(base).set(database=self.pg_db).render_as_string(hide_password=False)
        out = subprocess.run([TRACKER, "demo", "--json"], env=self.env, capture_output=True, text=True, check=True)
        self.demo = json.loads(out.stdout[out.stdout.index("{"):])
        if not photo_checks:
            # Tests of the crediting rule alone: no sign-in or random photo checks in the demo class.
            self.sql("UPDATE classes SET photo_checks = false")
        self.log = open(Path(tmp) / "server.log", "w")
        self._serve()

    def _serve(self):
        self.proc = subprocess.Popen([TRACKER, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                requests.get(self.url + "/login", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or (a loaded machine) slow to answer at first
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("server did not start: " + Path(self.log.name).read_text()[-2000:])
                time.sleep(0.1)

    def sql(self, statement):
        url = self.env.get("TRACKER_DATABASE_URL") or f"sqlite:///{self.instance / 'tracker.sqlite3'}"
        engine = create_engine(url)
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            rows = result.fetchall() if result.returns_rows else None
        engine.dispose()
        return rows

    @staticmethod
    def _admin(base, sql):
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def account(self, role, n=0):
        return [a for a in self.demo["accounts"] if a["role"] == role][n]

    def token(self, username, password="Demo1234"):
        r = requests.post(self.url + "/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def tracker(self, *args):
        return subprocess.run([TRACKER, *args], env=self.env, capture_output=True, text=True)

    def crash(self):
        """SIGKILL, as a power cut or the OOM killer would: no handler, no clean shutdown."""
        self.proc.kill()
        self.proc.wait(10)

    def restart(self):
        """A new server process on the same port, database and instance folder."""
        self._serve()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        if self.pg_db:
            self._admin(os.environ["TRACKER_DATABASE_URL"], f"DROP DATABASE IF EXISTS {self.pg_db} WITH (FORCE)")
