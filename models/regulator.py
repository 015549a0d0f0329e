"""The regulator's random sampling (双随机抽查): each draw as made, mirrored by its ledger entry."""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class SamplingDraw(Base):
    """One draw of trainees or classes from a region. The ledger entry (kind "sampling.draw") holds the seed,
    the population's size and SHA-256 and the ids drawn; this row also keeps the population itself, so that
    anyone can re-run tracker.regulator.sampling.draw(seed, population, n) and compare."""

    __tablename__ = "sampling_draws"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # trainees | classes
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    n: Mapped[int]
    seed: Mapped[str] = mapped_column(String(64))
    population: Mapped[str] = mapped_column(Text)  # canonical JSON of the sorted ids
    population_size: Mapped[int]
    population_sha256: Mapped[str] = mapped_column(String(64))
    selected: Mapped[str] = mapped_column(Text)  # JSON list of the ids drawn, in draw order
    ledger_seq: Mapped[int]
    regulator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
