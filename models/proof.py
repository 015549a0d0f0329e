"""Proof of the ledger: Merkle tree nodes, signed checkpoints, certificates. Every table here only grows (triggers)."""
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class MerkleNode(Base):
    """The hash of a complete subtree of the ledger's Merkle tree: 2**level leaves from leaf index * 2**level.

    Level 0 holds the leaf hashes. Nodes are written as entries are appended, in the same transaction, so
    that any proof is a handful of lookups here (see tracker.ledger.tree).
    """

    __tablename__ = "merkle_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpoint(Base):
    """A signed tree head: the platform's Ed25519 signature over the tree's size, root and time."""

    __tablename__ = "ledger_checkpoints"
    tree_size: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    # RFC 3339 text exactly as signed.
    timestamp: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(100))


class Certificate(Base):
    """A certificate of online training (培训证明) as issued: the signed document is kept byte for byte."""

    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Sequence number of the "certificate.issued" ledger entry.
    entry_seq: Mapped[int] = mapped_column(_BIGINT)
    document: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    trainee = relationship("User", foreign_keys=[trainee_id])
    training_class = relationship("TrainingClass")


class CertificateRevocation(Base):
    """A certificate withdrawn, by whom and why; its "certificate.revoked" ledger entry says the same."""

    __tablename__ = "certificate_revocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), unique=True)
    revoked_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    entry_seq: Mapped[int] = mapped_column(_BIGINT)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
