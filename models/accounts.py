from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

ROLES = ("trainee", "staff", "regulator", "admin")


class Institution(Base):
    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Administrative division code (GB/T 2260) of the regulator that oversees it.
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(50))
    # Stored upper-case, so that a final "x" and "X" are the same person.
    id_number: Mapped[Optional[str]] = mapped_column(String(18), unique=True)
    phone: Mapped[Optional[str]] = mapped_column(String(11), unique=True)
    category: Mapped[Optional[str]] = mapped_column(String(40))
    employer: Mapped[Optional[str]] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    institution_id: Mapped[Optional[int]] = mapped_column(ForeignKey("institutions.id"), index=True)
    region_code: Mapped[Optional[str]] = mapped_column(String(6), index=True)
    face_consent_version: Mapped[Optional[str]] = mapped_column(String(20))
    face_consent_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    institution: Mapped[Optional[Institution]] = relationship()


class ApiToken(Base):
    """Bearer tokens; only their SHA-256 is stored, so a database leak does not leak tokens."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # Updated at most once a minute, so that a busy client does not write on every request.
    last_used_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class LoginSession(Base):
    """A browser's login (登录会话): the signed cookie carries a random id, only its SHA-256 is stored here.

    The cookie is accepted only while its row is live, so logging out or changing the password ends it
    on the server, and a copied cookie replayed later is refused.
    """

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    address: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(120))
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class PasswordResetCode(Base):
    """A one-time code that staff of the trainee's institution (or an admin) issue to reset a forgotten password.

    Shown once to the issuer, stored only as a keyed digest, single use, expiring, with a bounded number of tries.
    """

    __tablename__ = "password_reset_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # Set when a newer code for the same trainee replaces this one, or when its tries run out.
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """Failed logins, for throttling; successful ones go to the ledger."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"), Index("ix_login_attempts_address_at", "address", "at"))


class AccountLock(Base):
    """An account locked everywhere after failed logins from many addresses (tracker/accounts/throttle.py); it ends at
    `until` or when an administrator lifts it. Both are ledger entries too."""

    __tablename__ = "account_locks"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column()
    addresses: Mapped[int] = mapped_column()
    lifted_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
