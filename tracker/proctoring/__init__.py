"""Proctoring (实名验证, 人脸识别, 过程拍照): face enrolment, photo-check verdicts, proxy-learning flags."""
import click
from flask.cli import with_appcontext


def init_app(app):
    """The pages and the command; the face work's settings (TRACKER_FACE_*) are in tracker.config."""
    from tracker.proctoring import routes

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
