"""`tracker cert verify FILE`: a certificate (PDF or JSON) checked offline with the platform's public key alone."""
import sys

import click
from flask.cli import with_appcontext

from tracker.ledger import offline
from tracker.ledger.commands import trusted_key

NOT_GENUINE, REVOKED = 1, 2


def _revocation(number):
    """Revocation as this instance's database knows it: (reason, date), None, or "unknown" without a database."""
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.certificates import services
    from tracker.extensions import db

    try:
        with db.transaction() as s:
            cert = services.by_number(s, number)
            if cert is None:
                return "unknown"
            rev = services.revocation(s, cert)
            return (rev.reason, rev.revoked_at.strftime("%Y-%m-%d")) if rev else None
    except SQLAlchemyError:
        return "unknown"


def add_cert_commands(cli):
    @cli.group("cert")
    def cert_group():
        """Certificates of online training (培训证明)."""

    @cert_group.command("verify")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--public-key", help="the platform's public key (base64, PEM, the JSON of /api/v1/ledger/public-key, "
                                       "or a file); default: this instance's key")
    @with_appcontext
    def verify(file, public_key):
        """Exit 0 when the certificate is genuine: the platform's signature, the checkpoint's signature, the inclusion
        proof of its ledger entry and the facts matching that entry. Exit 1 otherwise; exit 2 when it is genuine
        but this instance's database says it was revoked (only checked without --public-key)."""
        key = trusted_key(public_key)
        if key is None:
            raise click.ClickException("this instance has no platform key: pass --public-key")
        with open(file, "rb") as f:
            data = f.read()
        doc, checks = offline.verify_certificate(data, key)
        for label, ok, detail in checks:
            click.echo(f"{'✓' if ok else '✗'} {label}{'：' + detail if detail else ''}")
        if not checks or not all(ok for _label, ok, _detail in checks):
            click.echo(f"NOT GENUINE: {file}", err=True)
            sys.exit(NOT_GENUINE)
        facts = doc["facts"]
        t = facts["trainee"]
        online = facts.get("online") or {}
        click.echo(f"genuine: {facts['number']} {t['name']} {t['id_mask']} · {facts['class']['name']} · "
                   f"{online.get('credited_class_hours')} 课时 · issued {facts['issued_at']}")
        if public_key:
            click.echo("revocation not checked offline: see the verification page")
            return
        rev = _revocation(facts["number"])
        if rev == "unknown":
            click.echo("revocation not checked: this instance does not hold the certificate")
        elif rev:
            click.echo(f"REVOKED on {rev[1]}: {rev[0]}", err=True)
            sys.exit(REVOKED)
