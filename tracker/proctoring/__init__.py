"""Proctoring (实名验证, 人脸识别, 过程拍照): face enrolment, photo-check verdicts, proxy-learning flags."""
import os

import click
from flask.cli import with_appcontext


def init_app(app):
    """Configuration of the face work (TRACKER_FACE_*, from the environment unless given) and the pages."""
    from tracker.proctoring import routes
    from tracker.proctoring.workers import default_workers

    env = os.environ.get
    app.config.setdefault("TRACKER_FACE_WORKERS", int(env("TRACKER_FACE_WORKERS", default_workers())))
    app.config.setdefault("TRACKER_FACE_QUEUE", int(env("TRACKER_FACE_QUEUE", 0)) or None)
    app.config.setdefault("TRACKER_FACE_WAIT", float(env("TRACKER_FACE_WAIT", 30)))
    app.config.setdefault("TRACKER_FACE_REPLAY_BITS", int(env("TRACKER_FACE_REPLAY_BITS", 10)))
    app.register_blueprint(routes.bp)
    app.cli.add_command(faces_cli)


@click.group("faces", help="人脸照片：保存期满后删除（台账中的哈希保留）")
def faces_cli():
    pass


@faces_cli.command("purge")
@click.option("--days", type=int, default=None, help="保存天数（默认 3 年）")
@click.option("--dry-run", is_flag=True, help="只统计，不删除")
@with_appcontext
def purge(days, dry_run):
    """Delete photo files past the retention period; their hashes stay in the database and the ledger."""
    from tracker.extensions import db
    from tracker.proctoring import services

    with db.transaction() as s:
        files = services.purge_photos(s, days=days or services.RETENTION_DAYS, dry_run=dry_run)
    if not dry_run:
        services.delete_photo_files(files)  # only now that the rows no longer point at them
    click.echo(f"{'would delete' if dry_run else 'deleted'} {len(files)} photo file(s)")
