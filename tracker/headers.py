"""Security headers on every response: a Content Security Policy that runs scripts only from this site, no framing
by other sites, no referrer sent elsewhere, no MIME sniffing; HSTS only when TRACKER_HTTPS says the platform is
served over HTTPS (the session cookie is then Secure too: tracker/config.py).

Styles keep 'unsafe-inline': the templates carry many <style> blocks and style attributes, and a style cannot run
code. Scripts do not: every script is a file under static/, and pages pass data in <script type="application/json">.
"""
from urllib.parse import urlsplit

from flask import current_app, g, request

HSTS = "max-age=31536000; includeSubDomains"


def allow_origin(url, *directives):
    """Let this page reach the origin of `url` in `directives` (e.g. a live lecture's stream on another host)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return
    extra = g.setdefault("csp_extra", {})
    for directive in directives:
        extra.setdefault(directive, []).append(f"{parts.scheme}://{parts.netloc}")


def content_security_policy():
    # Socket.IO's WebSocket: 'self' covers ws(s) to the same host in current browsers; naming it also serves older ones.
    ws = f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}"
    policy = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],  # camera snapshots and QR codes
        "media-src": ["'self'", "blob:"],  # chapter videos; hls.js plays through a blob: MediaSource
        "worker-src": ["'self'", "blob:"],  # hls.js's transmuxing worker
        "connect-src": ["'self'", ws],
        "frame-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for directive, sources in g.get("csp_extra", {}).items():
        policy[directive] += [s for s in sources if s not in policy[directive]]
    return "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())


def add_security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", content_security_policy())
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    # Verification addresses carry certificate numbers: they are not handed to other sites.
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if current_app.config["TRACKER_HTTPS"]:
        h.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app):
    app.after_request(add_security_headers)
