"""Command-line parts of the ledger's proofs: `tracker ledger checkpoint|export` and the proof half of
`tracker ledger verify` (with and without --from-checkpoint)."""
import sys

import click

from tracker.ledger import checkpoints, keys, offline


def trusted_key(option):
    """The key to verify with: --public-key if given, else the instance's; None if neither exists."""
    if option:
        try:
            return offline.load_public_key(option)
        except (offline.Invalid, ValueError) as e:
            raise click.ClickException(f"--public-key: {e}") from None
    return keys.existing_public_key_bytes()


def verify_proofs(s, public_key_option=None):
    """Print the Merkle tree and checkpoint verdicts after the chain's; True when both hold."""
    key = trusted_key(public_key_option)
    if key is None:
        if checkpoints.latest(s) is None:
            click.echo("checkpoints: none yet (no platform key in this instance)")
            key = b"\0" * 32  # nothing will be checked with it
        else:
            click.echo("checkpoints BROKEN: there are checkpoints but no platform key to check them with "
                       "(pass --public-key)", err=True)
            return False
    result = checkpoints.verify(s, key)
    ok = True
    if result["tree_problem"] is None:
        click.echo(f"merkle tree intact: {result['leaves']} leaves, root {result['root_hash']}")
    else:
        ok = False
        seq, reason = result["tree_problem"]
        click.echo(f"merkle tree BROKEN at entry {seq}: {reason}", err=True)
    if result["checkpoint_problem"] is None:
        newest = result["newest"]
        tail = (f"; newest: size {newest['tree_size']} at {newest['timestamp']}, "
                f"{result['leaves'] - newest['tree_size']} entries after it") if newest else ""
        click.echo(f"checkpoints intact: {result['checkpoints']} verified (signature, root, consistency with the one "
                   f"before){tail}; key {offline.fingerprint(key)}")
    else:
        ok = False
        size, reason = result["checkpoint_problem"]
        click.echo(f"checkpoint BROKEN at tree size {size}: {reason} "
                   f"({result['checkpoints']} checkpoints verified before it)", err=True)
    return ok


def verify_export_file(path, public_key_option=None):
    """`tracker ledger verify --from-checkpoint FILE`: the export alone, with the pure functions; exit status."""
    key = offline.load_public_key(public_key_option) if public_key_option else None
    with open(path, "rb") as f:
        result = offline.verify_export(f, key)
    if result["problem"] is not None:
        line, seq, reason = result["problem"]
        where = f"entry {seq}, " if seq is not None else ""
        click.echo(f"export BROKEN at line {line} ({where}{result['entries']} entries verified before it): {reason}",
                   err=True)
        return 1
    last = result["last_checkpoint"]
    click.echo(f"export intact: {result['entries']} entries, head {result['head_hash']}, root {result['root_hash']}")
    click.echo(f"checkpoints: {result['checkpoints']} verified" +
               (f"; newest: size {last['tree_size']}, root {last['root_hash']}, at {last['timestamp']}" if last else ""))
    fp = offline.fingerprint(offline.load_public_key(result["public_key"]))
    if result["key_from_file"]:
        click.echo(f"key {fp} was taken from the file itself: compare it with the published one "
                   "(/api/v1/ledger/public-key), or pass --public-key")
    else:
        click.echo(f"key {fp} (given)")
    return 0


def add_ledger_commands(group):
    from flask.cli import with_appcontext

    from tracker.extensions import db

    @group.command("checkpoint")
    @with_appcontext
    def checkpoint():
        """Sign a checkpoint of the ledger as it stands now and print it."""
        import json

        with db.transaction() as s:
            cp = checkpoints.make_checkpoint(s)
            out = checkpoints.as_json(cp) if cp else None
        if out is None:
            click.echo("the ledger is empty: nothing to sign")
            return
        click.echo(json.dumps(out))

    @group.command("export")
    @click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
    @with_appcontext
    def export(file):
        """Write the entries and checkpoints as JSON lines, for `tracker ledger verify --from-checkpoint FILE`."""
        lines = 0
        out = sys.stdout.buffer if file == "-" else open(file, "wb")
        try:
            with db.snapshot() as s:
                for line in checkpoints.export_lines(s):
                    out.write(line + b"\n")
                    lines += 1
        finally:
            if out is not sys.stdout.buffer:
                out.close()
        click.echo(f"exported {lines} lines to {file}", err=True)
