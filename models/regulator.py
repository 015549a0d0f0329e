"""The regulator's records: random sampling (双随机抽查), each draw as made, and reviews of anomalies (核查处置);
each mirrored by its ledger entry."""
from datetime import datetime
from typing import Optional

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


class AnomalyReview(Base):
    """A regulator's review (核查处置) of a trainee's anomaly findings: the conclusion, a note, and the findings and
    risk score as they stood when the review was made (a snapshot, so the review keeps its meaning when the
    findings change). Append-only: a later review of the trainee supersedes the earlier one for display, and both
    stay. The ledger entry (kind "anomaly.reviewed", at ledger_seq) holds the SHA-256 of the note and the snapshot."""

    __tablename__ = "anomaly_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    regulator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    conclusion: Mapped[str] = mapped_column(String(10))  # cleared | violation | watch
    note: Mapped[str] = mapped_column(Text)
    days: Mapped[Optional[int]]  # the window of learning sessions the findings covered (None: all time)
    score: Mapped[int]
    level: Mapped[str] = mapped_column(String(10))
    findings: Mapped[str] = mapped_column(Text)  # canonical JSON of the signs with their evidence data
    findings_sha256: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[Optional[int]] = mapped_column(ForeignKey("anomaly_reviews.id"))
    ledger_seq: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
