"""The `tracker` command: init-db, demo, create-user, ledger verify|checkpoint|export, cert verify, serve."""
import json
import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from tracker.accounts.rules import RuleError


def main():
    from tracker import create_app

    FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, load_dotenv=False, help="职业技能线上培训平台")(
        prog_name="tracker"
    )


def register_cli(app):
    from tracker.extensions import db

    @app.cli.command("init-db")
    @with_appcontext
    def init_db():
        """Create or upgrade the schema (Alembic) and the ledger head."""
        from tracker.db import upgrade

        upgrade(db.engine)
        click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")

    @app.cli.command("demo")
    @click.option("--json", "as_json", is_flag=True, help="print accounts and classes as JSON")
    @with_appcontext
    def demo(as_json):
        """Load the demo (idempotent) and print its logins."""
        from tracker.db import upgrade
        from tracker.demo import load_demo

        upgrade(db.engine)
        info = load_demo(current_app)
        if as_json:
            click.echo(json.dumps(info, ensure_ascii=False, indent=1))
            return
        click.echo("演示账号（用户名 / 密码）：")
        for a in info["accounts"]:
            click.echo(f"  {a['role']:<10} {a['username']:<20} {a['password']}  {a['name']}")
        for c in info["classes"]:
            click.echo(f"班期 {c['class_id']}：{c['name']}，章节 {', '.join(str(ch['chapter_id']) for ch in c['chapters'])}")

    @app.cli.command("create-user")
    @click.option("--role", type=click.Choice(["trainee", "staff", "regulator", "admin"]), required=True)
    @click.option("--name", required=True)
    @click.option("--password", required=True, help="at least 8 characters with letters and digits")
    @click.option("--phone")
    @click.option("--id-number")
    @click.option("--institution-id", type=int)
    @click.option("--region-code")
    @click.option("--category")
    @click.option("--employer")
    @with_appcontext
    def create_user(role, name, password, phone, id_number, institution_id, region_code, category, employer):
        """Create an account; the ledger records it as made by the command line."""
        from tracker.accounts.services import create_user as make

        try:
            with db.transaction() as s:
                user = make(s, role=role, name=name, password=password, phone=phone, id_number=id_number,
                            institution_id=institution_id, region_code=region_code, category=category, employer=employer)
        except RuleError as e:
            raise click.ClickException(e.message) from None
        click.echo(json.dumps({"user_id": user.id, "role": role}))

    @app.cli.group("ledger")
    def ledger_group():
        """The training ledger."""

    @ledger_group.command("verify")
    @click.option("--from-checkpoint", "export_file", type=click.Path(exists=True, dir_okay=False),
                  help="verify an export (tracker ledger export) offline instead of the database")
    @click.option("--public-key", help="the platform's public key (base64, PEM, or a file); default: the instance's")
    @with_appcontext
    def ledger_verify(export_file, public_key):
        """Recompute every hash, the Merkle tree and every checkpoint; exit 1 and name the first bad entry if anything
        was changed."""
        from tracker.ledger.commands import verify_export_file, verify_proofs
        from tracker.ledger.services import verify

        if export_file:
            sys.exit(verify_export_file(export_file, public_key))
        with db.snapshot() as s:
            result = verify(s)
            if result["first_bad_seq"] is None:
                click.echo(f"ledger intact: {result['entries']} entries, head {result['head_hash']}")
            else:
                click.echo(f"ledger BROKEN at entry {result['first_bad_seq']}: {result['reason']} "
                           f"({result['entries']} entries verified before it)", err=True)
            proofs_ok = verify_proofs(s, public_key)
        if result["first_bad_seq"] is not None or not proofs_ok:
            sys.exit(1)

    from tracker.certificates.commands import add_cert_commands
    from tracker.ledger.commands import add_ledger_commands

    add_ledger_commands(ledger_group)
    add_cert_commands(app.cli)

    @app.cli.command("serve")
    @click.option("--host", default=None)
    @click.option("--port", type=int, default=None)
    @with_appcontext
    def serve(host, port):
        """Serve the platform (HTTP and Socket.IO) on TRACKER_HOST:TRACKER_PORT."""
        from tracker.extensions import socketio

        cfg = current_app.config
        host, port = host or cfg["TRACKER_HOST"], port or cfg["TRACKER_PORT"]
        ssl = None
        if cfg["TRACKER_HTTPS"]:
            from tracker.tls import self_signed

            ssl = self_signed(cfg["TRACKER_INSTANCE"], host)
        scheme = "https" if ssl else "http"
        click.echo(f"serving on {scheme}://{host}:{port}")
        os.environ.pop("FLASK_RUN_FROM_CLI", None)  # else Flask ignores app.run() under its own CLI
        socketio.run(current_app._get_current_object(), host=host, port=port, allow_unsafe_werkzeug=True,
                     ssl_context=ssl, log_output=False)
