"""Request limits in one place: the largest body each route accepts, and how often one address may call the
routes that can be abused (certificate lookups, registration).

Body limits are decided before the body is read: a declared Content-Length over the route's limit is answered 413 at
once, and a chunked body without one is cut off with 413 as soon as it passes the limit (Werkzeug's LimitedStream).
"""
from flask import current_app, request
from flask_limiter import Limiter
from werkzeug.exceptions import RequestEntityTooLarge

# The largest body per endpoint, as the config key that holds it; every other route gets TRACKER_MAX_BODY
# (JSON and plain forms). Video uploads are streamed to disk by Werkzeug's form parser and manage.store_video.
BODY_LIMITS = {
    "api.enrol_face": "TRACKER_MAX_PHOTO",
    "api.photo_check_answer": "TRACKER_MAX_PHOTO",  # one photo or a burst of small frames
    "manage.roster_import_file": "TRACKER_MAX_SPREADSHEET",
    "assessment.bank_import": "TRACKER_MAX_SPREADSHEET",
    "manage.course_detail": "TRACKER_MAX_UPLOAD",  # a chapter's video
    "lectures.recording_upload": "TRACKER_MAX_UPLOAD",
    "api.lecture_recording": "TRACKER_MAX_UPLOAD",
}


def body_limit(endpoint):
    """Bytes the route behind `endpoint` accepts in a request body."""
    return current_app.config[BODY_LIMITS.get(endpoint, "TRACKER_MAX_BODY")]


class CappedStream:
    """A chunked body that raises 413 once it passes the limit. (Werkzeug's own limit on such a body stops reading
    at the limit and hands on the truncated body without an error.)"""

    def __init__(self, stream, limit):
        self._stream, self._left = stream, limit

    def read(self, size=-1):
        want = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data = self._stream.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise RequestEntityTooLarge()
        return data


def limit_request_body():
    limit = body_limit(request.endpoint)
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()  # before a byte of the body is read
        request.max_content_length = limit
    elif "wsgi.input_terminated" in request.environ and "stream" not in request.__dict__:
        request.environ["wsgi.input"] = CappedStream(request.environ["wsgi.input"], limit)
        request.max_content_length = limit + 1  # Werkzeug reads one byte past the limit: CappedStream says 413


def client_address():
    """The address rate limits count by (the proxy's X-Forwarded-For when TRACKER_PROXY_HOPS says to trust it)."""
    return request.remote_addr or "unknown"


limiter = Limiter(client_address, default_limits=[], headers_enabled=True)


def verify_rate():
    return current_app.config["TRACKER_VERIFY_RATE"]


def register_rate():
    return current_app.config["TRACKER_REGISTER_RATE"]


# The HTML page and the API count together: one budget per address for each.
verify_limit = limiter.shared_limit(verify_rate, scope="verify")
register_limit = limiter.shared_limit(register_rate, scope="register", methods=["POST"])


def init_app(app):
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["TRACKER_RATELIMIT_STORAGE"])
    app.config.setdefault("RATELIMIT_ENABLED", app.config["TRACKER_RATELIMIT_ENABLED"])
    # A shared store that is down must not take registration and verification down with it: count per process.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if app.config["TRACKER_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRACKER_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.before_request(limit_request_body)
    limiter.init_app(app)
