from typing import Optional

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class LedgerEntry(Base):
    """One append-only entry of the training ledger. The database refuses UPDATE and DELETE (triggers).

    ts and payload are stored as the exact text that was hashed, so verification never depends on
    how a database round-trips dates or JSON.
    """

    __tablename__ = "ledger_entries"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(index=True)
    subject_id: Mapped[Optional[int]] = mapped_column(index=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerHead(Base):
    """A single row holding the chain's head; appenders lock it, which serialises the chain."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[str] = mapped_column(String(64))
