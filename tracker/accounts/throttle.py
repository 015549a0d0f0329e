"""Login throttling as plain rules over the failures recorded (LoginAttempt rows): slow an attacker down without
letting them lock the owner out from somewhere else.

- per account and address: after `pair_failures` failures of one account from one address within `window`, that
  address waits before trying that account again; the owner on another address is not affected;
- per address: after `address_failures` failures from one address (any accounts) within `window`, that address
  waits (one address guessing many accounts);
- account-wide: only after at least `lock_failures` failures from at least `lock_addresses` different addresses
  within `lock_window` is the account locked everywhere, for `lock_seconds`; the lock is written to the ledger, shown
  to administrators, and one of them may lift it.

The functions take and return plain values; tracker/accounts/services.py reads the rows and acts on the answer.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    pair_failures: int = 5
    address_failures: int = 20
    window: int = 900
    lock_addresses: int = 10
    lock_failures: int = 30
    lock_window: int = 3600
    lock_seconds: int = 24 * 3600

    @classmethod
    def from_config(cls, cfg):
        return cls(pair_failures=cfg["TRACKER_LOGIN_MAX_FAILURES"], window=cfg["TRACKER_LOGIN_WINDOW"],
                   address_failures=cfg["TRACKER_LOGIN_ADDRESS_MAX_FAILURES"],
                   lock_addresses=cfg["TRACKER_LOGIN_LOCK_ADDRESSES"], lock_failures=cfg["TRACKER_LOGIN_LOCK_FAILURES"],
                   lock_window=cfg["TRACKER_LOGIN_LOCK_WINDOW"], lock_seconds=cfg["TRACKER_LOGIN_LOCK_SECONDS"])


@dataclass(frozen=True)
class Failure:
    account: str  # "#<user id>" for an account, the name as typed (upper case) for an unknown one
    address: str
    at: float  # seconds since the epoch


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""  # too_many_attempts | address_throttled | account_locked
    retry_after: int = 0  # seconds


def _wait(times, limit, window, now):
    """Seconds until fewer than `limit` of `times` fall within the window ending now (0 when already fewer)."""
    recent = sorted(t for t in times if t > now - window)
    if len(recent) < limit:
        return 0
    return max(1, int(recent[len(recent) - limit] + window - now) + 1)


def login_decision(failures, account, address, now, policy, locked_until=None):
    """May `address` try a password for `account` now? `failures` holds at least those of this account and of this
    address within the policy's window; `locked_until` is the end of a standing account-wide lock, if any."""
    if locked_until is not None and locked_until > now:
        return Decision(False, "account_locked", int(locked_until - now) + 1)
    pair = _wait([f.at for f in failures if f.account == account and f.address == address], policy.pair_failures,
                 policy.window, now)
    if pair:
        return Decision(False, "too_many_attempts", pair)
    by_address = _wait([f.at for f in failures if f.address == address], policy.address_failures, policy.window, now)
    if by_address:
        return Decision(False, "address_throttled", by_address)
    return Decision(True)


def lock_due(failures, account, now, policy):
    """Whether the account's failures within the lock window come from enough addresses to lock it everywhere."""
    recent = [f for f in failures if f.account == account and f.at > now - policy.lock_window]
    addresses = {f.address for f in recent}
    return len(recent) >= policy.lock_failures and len(addresses) >= policy.lock_addresses
