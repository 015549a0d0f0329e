"""The training ledger (培训台账): an append-only, hash-chained record of everything that counts."""
from tracker.ledger.services import append, register_evidence_checker, verify  # noqa: F401
