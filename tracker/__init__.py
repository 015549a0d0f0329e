"""The online-training platform: create_app builds it from TRACKER_* configuration."""
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None):
    from tracker.config import instance_secret, load_config

    cfg = load_config(config)
    instance = Path(cfg["TRACKER_INSTANCE"])
    for sub in ("", "media", "photos", "keys"):
        (instance / sub).mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(cfg)
    from tracker.db import BigIdConverter, RowIdConverter
    app.url_map.converters.update(int=RowIdConverter, bigint=BigIdConverter)  # before any route is added
    app.json.ensure_ascii = False
    app.secret_key = cfg.get("SECRET_KEY") or instance_secret(instance)
    app.config.setdefault("TRACKER_ID_PEPPER", instance_secret(instance, "id_pepper"))

    from tracker import errors, views
    from tracker.accounts import routes as accounts_routes
    from tracker.assessment import routes as assessment_routes
    from tracker.assessment import sockets as assessment_sockets
    from tracker.api import routes as api_routes
    from tracker.learning import lecture_routes, manage_routes
    from tracker.learning import routes as learning_routes
    from tracker.learning import sockets
    from tracker.certificates import routes as certificate_routes
    from tracker.regulator import routes as regulator_routes
    from tracker import housekeeping
    from tracker import proctoring
    from tracker.cli import register_cli
    from tracker.assessment import requirements
    from tracker.extensions import csrf, db, socketio

    db.init_app(app)
    csrf.init_app(app)
    # Handlers run on the connection's own thread (no thread per event): they are short, and the heartbeat
    # handler only hands its heartbeat to the writer thread.
    socketio.init_app(app, async_mode="threading", async_handlers=False,
                      message_queue=cfg["TRACKER_SOCKETIO_QUEUE"] or None)
    errors.init_app(app)
    from tracker import limits
    limits.init_app(app)  # body size per route, rate limits per address
    from tracker import headers
    headers.init_app(app)  # CSP, framing, referrer, nosniff; HSTS under TRACKER_HTTPS
    from tracker.clock import beijing, beijing_date
    app.add_template_filter(beijing)  # people read Beijing time; data and the ledger keep UTC
    app.add_template_filter(beijing_date)
    from tracker.accounts.rules import role_label
    app.add_template_filter(role_label)
    sockets.init_app(socketio)
    assessment_sockets.init_app(socketio)
    app.register_blueprint(accounts_routes.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(learning_routes.bp)
    app.register_blueprint(manage_routes.bp)
    app.register_blueprint(lecture_routes.bp)
    app.register_blueprint(assessment_routes.bp)
    app.register_blueprint(certificate_routes.bp)
    app.register_blueprint(regulator_routes.bp)
    proctoring.init_app(app)
    app.register_blueprint(api_routes.bp)
    csrf.exempt(api_routes.bp)  # bearer tokens; cookie-authenticated API writes check CSRF in api_auth
    housekeeping.init_app(app)  # checkpoints at least every minute while entries arrive; silent sessions closed
    requirements.register()  # a certificate needs the chapter quizzes and the final exam passed
    register_cli(app)
    return app
