"""Extensions created unbound here and bound to the app in create_app."""
from contextlib import contextmanager

from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import create_engine, event
from sqlalchemy.orm import scoped_session, sessionmaker


class Database:
    """Engine and a thread-scoped session; one per app, removed at the end of each request."""

    def __init__(self):
        self.engine = None
        self.session = scoped_session(sessionmaker(expire_on_commit=False))

    def init_app(self, app):
        self.engine = make_engine(app.config["TRACKER_DATABASE_URL"])
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(lambda exc: self.session.remove())
        app.extensions["tracker_db"] = self

    @contextmanager
    def transaction(self):
        """A unit of work in its own session: committed on success, rolled back on any error."""
        s = self.session.session_factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @contextmanager
    def snapshot(self):
        """A read-only unit of work that sees one consistent state of the database and makes no writer wait:
        verifying or exporting a large ledger must not stall the heartbeats meanwhile."""
        s = self.session.session_factory()
        pg = self.engine.dialect.name == "postgresql"
        s.connection(execution_options={"tracker_snapshot": True, **(
            {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True} if pg else {})})
        try:
            yield s
        finally:
            s.rollback()
            s.close()


def make_engine(url):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # We issue BEGIN ourselves (below); pysqlite's implicit transactions would defeat it.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Take the write lock up front: a deferred transaction that reads, then writes, can fail
            # with SQLITE_BUSY_SNAPSHOT when another writer committed in between. A snapshot only reads: in
            # WAL mode a deferred transaction sees one state and leaves the lock to the writers.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("tracker_snapshot") else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


db = Database()
socketio = SocketIO()
csrf = CSRFProtect()
