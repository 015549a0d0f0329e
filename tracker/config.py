"""Configuration from TRACKER_* environment variables with safe defaults."""
import os
import secrets
import time
from pathlib import Path


def _int(name, default):
    return int(os.environ.get(name, default))


def _float(name, default):
    return float(os.environ.get(name, default))


def load_config(overrides=None):
    """Build the app's config dict: environment first, then explicit overrides (tests)."""
    overrides = dict(overrides or {})
    instance = Path(overrides.get("TRACKER_INSTANCE") or os.environ.get("TRACKER_INSTANCE", "./instance")).resolve()
    cfg = {
        "TRACKER_INSTANCE": str(instance),
        "TRACKER_DATABASE_URL": os.environ.get("TRACKER_DATABASE_URL") or f"sqlite:///{instance / 'tracker.sqlite3'}",
        "TRACKER_HEARTBEAT_INTERVAL": _int("TRACKER_HEARTBEAT_INTERVAL", 15),
        "TRACKER_PHOTO_CHECK_MEAN": _int("TRACKER_PHOTO_CHECK_MEAN", 600),
        "TRACKER_PHOTO_CHECK_DEADLINE": _int("TRACKER_PHOTO_CHECK_DEADLINE", 60),
        "TRACKER_FACE_TOLERANCE": _float("TRACKER_FACE_TOLERANCE", 0.5),
        "TRACKER_ATTENTION_MEAN": _int("TRACKER_ATTENTION_MEAN", 900),
        "TRACKER_ATTENTION_DEADLINE": _int("TRACKER_ATTENTION_DEADLINE", 60),
        # Seconds between signed checkpoints of the ledger while entries arrive (0: only on demand).
        "TRACKER_CHECKPOINT_INTERVAL": _float("TRACKER_CHECKPOINT_INTERVAL", 60.0),
        # Seconds between sweeps that close silent sessions and finished live rooms (0: only when a session starts).
        "TRACKER_SWEEP_INTERVAL": _float("TRACKER_SWEEP_INTERVAL", 60.0),
        # Public address printed in certificates' QR codes when the platform sits behind a proxy.
        "TRACKER_PUBLIC_URL": os.environ.get("TRACKER_PUBLIC_URL", ""),
        "TRACKER_QUIZ_UNLOCK_SHARE": _float("TRACKER_QUIZ_UNLOCK_SHARE", 0.95),
        "TRACKER_QUIZ_QUESTIONS": _int("TRACKER_QUIZ_QUESTIONS", 5),
        "TRACKER_QUIZ_PASS_SHARE": _float("TRACKER_QUIZ_PASS_SHARE", 0.6),
        # Chapter quizzes: attempts per chapter and minutes between two (a class's exam settings may change both).
        # Each retake is another look at the paper, so both are bounded.
        "TRACKER_QUIZ_MAX_ATTEMPTS": _int("TRACKER_QUIZ_MAX_ATTEMPTS", 3),
        "TRACKER_QUIZ_COOLDOWN_MINUTES": _int("TRACKER_QUIZ_COOLDOWN_MINUTES", 10),
        # A browser login unused this many seconds ends; a password reset code lives this long and allows this many tries.
        "TRACKER_SESSION_IDLE": _int("TRACKER_SESSION_IDLE", 7 * 24 * 3600),
        "TRACKER_RESET_CODE_TTL": _int("TRACKER_RESET_CODE_TTL", 30 * 60),
        "TRACKER_RESET_CODE_TRIES": _int("TRACKER_RESET_CODE_TRIES", 5),
        # Test only: server time runs this many times faster than real time.
        "TRACKER_CLOCK_SCALE": _float("TRACKER_CLOCK_SCALE", 1.0),
        # Face work: worker processes (0: in the request thread), queue bound (0: twice the workers),
        # seconds a request waits for a place before answering busy, perceptual-hash bits that make a replay.
        "TRACKER_FACE_WORKERS": _int("TRACKER_FACE_WORKERS", max(1, min(2, os.cpu_count() or 1))),
        "TRACKER_FACE_QUEUE": _int("TRACKER_FACE_QUEUE", 0) or None,
        "TRACKER_FACE_WAIT": _float("TRACKER_FACE_WAIT", 30.0),
        "TRACKER_FACE_REPLAY_BITS": _int("TRACKER_FACE_REPLAY_BITS", 10),
        "TRACKER_HOST": os.environ.get("TRACKER_HOST", "127.0.0.1"),
        "TRACKER_PORT": _int("TRACKER_PORT", 5000),
        "TRACKER_HTTPS": os.environ.get("TRACKER_HTTPS", "") not in ("", "0", "false"),
        "TRACKER_SOCKETIO_QUEUE": os.environ.get("TRACKER_SOCKETIO_QUEUE", ""),
        # Login throttling (tracker/accounts/throttle.py): failures of one account from one address, and failures
        # from one address over all accounts, within the window (seconds) before that address must wait.
        "TRACKER_LOGIN_MAX_FAILURES": _int("TRACKER_LOGIN_MAX_FAILURES", 5),
        "TRACKER_LOGIN_ADDRESS_MAX_FAILURES": _int("TRACKER_LOGIN_ADDRESS_MAX_FAILURES", 20),
        "TRACKER_LOGIN_WINDOW": _int("TRACKER_LOGIN_WINDOW", 900),
        # An account is locked everywhere for LOCK_SECONDS only after LOCK_FAILURES failures from LOCK_ADDRESSES
        # different addresses within LOCK_WINDOW seconds; an administrator may lift the lock.
        "TRACKER_LOGIN_LOCK_ADDRESSES": _int("TRACKER_LOGIN_LOCK_ADDRESSES", 10),
        "TRACKER_LOGIN_LOCK_FAILURES": _int("TRACKER_LOGIN_LOCK_FAILURES", 30),
        "TRACKER_LOGIN_LOCK_WINDOW": _int("TRACKER_LOGIN_LOCK_WINDOW", 3600),
        "TRACKER_LOGIN_LOCK_SECONDS": _int("TRACKER_LOGIN_LOCK_SECONDS", 24 * 3600),
        "TRACKER_TOKEN_TTL": _int("TRACKER_TOKEN_TTL", 7 * 24 * 3600),
        # Request bodies (tracker/limits.py decides per route): JSON and forms, photos, spreadsheets, videos.
        "TRACKER_MAX_BODY": _int("TRACKER_MAX_BODY", 1024 * 1024),
        "TRACKER_MAX_PHOTO": _int("TRACKER_MAX_PHOTO", 8 * 1024 * 1024),
        "TRACKER_MAX_SPREADSHEET": _int("TRACKER_MAX_SPREADSHEET", 10 * 1024 * 1024),
        "TRACKER_MAX_UPLOAD": _int("TRACKER_MAX_UPLOAD", 512 * 1024 * 1024),
        # Rate limits per address (Flask-Limiter notation), and where their counters live: memory:// in one
        # process; a shared store such as redis://host:6379/1 when several web processes run.
        "TRACKER_VERIFY_RATE": os.environ.get("TRACKER_VERIFY_RATE", "30 per minute;300 per day"),
        "TRACKER_REGISTER_RATE": os.environ.get("TRACKER_REGISTER_RATE", "10 per minute;60 per hour"),
        "TRACKER_RATELIMIT_STORAGE": os.environ.get("TRACKER_RATELIMIT_STORAGE", "memory://"),
        "TRACKER_RATELIMIT_ENABLED": os.environ.get("TRACKER_RATELIMIT_ENABLED", "1") not in ("0", "false"),
        # Proxies in front of the platform whose X-Forwarded-For/-Proto/-Host are trusted (0: none; the address
        # that rate limits and login throttling count by is then the connection's own).
        "TRACKER_PROXY_HOPS": _int("TRACKER_PROXY_HOPS", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "TESTING": False,
    }
    cfg.update(overrides)
    cfg["TRACKER_CLOCK_ORIGIN"] = time.time()
    cfg["SESSION_COOKIE_SECURE"] = bool(cfg["TRACKER_HTTPS"])
    # The app-wide ceiling; tracker/limits.py lowers it per route before the body is read.
    cfg["MAX_CONTENT_LENGTH"] = max(cfg["TRACKER_MAX_BODY"], cfg["TRACKER_MAX_PHOTO"], cfg["TRACKER_MAX_SPREADSHEET"],
                                    cfg["TRACKER_MAX_UPLOAD"])
    return cfg


def instance_secret(instance_dir, name="secret_key"):
    """A random secret kept in the instance folder, created on first use (0600)."""
    path = Path(instance_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip()
