"""Faces (人脸识别): enrolled faces, every photo judged (encrypted on disk), flags of suspected proxy learning."""
from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class FacePhoto(Base):
    """A photo of a trainee's face that was judged: an enrolment, a photo check or a refused enrolment.

    The image itself is a Fernet-encrypted file under the instance's photos/ folder; the hashes stay here
    (replay detection needs them) and in the ledger after the file is purged.
    """

    __tablename__ = "face_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # enrolment | check | refused_enrolment
    check_id: Mapped[Optional[int]] = mapped_column(ForeignKey("session_checks.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Perceptual hash (256-bit DCT hash, hex): a re-encoded or resized copy stays within a few bits.
    phash: Mapped[Optional[str]] = mapped_column(String(64))
    file: Mapped[Optional[str]] = mapped_column(String(255))  # relative to <instance>/photos; None once purged
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    # The label the browser reported for the camera (MediaStreamTrack.label); None for an upload or an API client
    # that sent none. What the client says, kept as evidence; known virtual cameras are refused (proctoring.cameras).
    camera_label: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FaceEnrolment(Base):
    """A trainee's enrolled face (人脸登记). One is active at a time. The first becomes active at once; a later one
    is a face change, pending until staff of an institution where the trainee studies (or an admin) approve it
    beside the active one: photo checks are judged against the active face meanwhile."""

    __tablename__ = "face_enrolments"
    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("face_photos.id"))
    # The 128-d face_recognition encoding as little-endian float64 bytes.
    encoding: Mapped[bytes] = mapped_column(LargeBinary)
    # How the photo reached the server, as the server knows it: "page" (the enrolment page, signed-in browser) or
    # "api" (a bearer token). Rows before 0008 hold what the client claimed (camera | upload).
    source: Mapped[str] = mapped_column(String(10))
    face_px: Mapped[int] = mapped_column(default=0)  # height of the face box in the judged frame
    active: Mapped[bool] = mapped_column(default=True, index=True)
    # active | pending (a face change awaiting review) | replaced | refused | withdrawn (a newer request came)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active", index=True)
    previous_id: Mapped[Optional[int]] = mapped_column(ForeignKey("face_enrolments.id"))  # the face it would replace
    distance: Mapped[Optional[float]]  # face distance to that face, when the change was asked
    reviewed_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replaced_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))

    photo: Mapped[FacePhoto] = relationship()
    trainee = relationship("User", foreign_keys=[trainee_id])


class FaceFlag(Base):
    """An anomaly for staff and the regulator: a face already enrolled under another ID (proxy_suspected,
    代刷), or a re-enrolment with a face unlike the one it replaces (face_changed)."""

    __tablename__ = "face_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # the account that tried
    other_trainee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)  # whose face it is
    distance: Mapped[Optional[float]]
    photo_id: Mapped[Optional[int]] = mapped_column(ForeignKey("face_photos.id"))
    ledger_seq: Mapped[Optional[int]]
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    trainee = relationship("User", foreign_keys=[trainee_id])
    other_trainee = relationship("User", foreign_keys=[other_trainee_id])


class ProctoringPolicy(Base):
    """An institution's choices for face checks; an institution without a row takes the defaults."""

    __tablename__ = "proctoring_policies"
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), primary_key=True)
    # Enrolment from an uploaded ID-style photo; when off, only a live webcam capture is accepted.
    allow_upload: Mapped[bool] = mapped_column(default=True)
