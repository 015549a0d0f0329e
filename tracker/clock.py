"""Time on the wire and on the page: RFC 3339 UTC in data and the ledger, China Standard Time for people."""
import time
from datetime import date, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def rfc3339(ts=None):
    return datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def as_cst(value):
    """An epoch, an ISO text (with Z or an offset) or a datetime (naive ones are UTC, as stored) in CST; None stays."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, CST)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(CST)
    if isinstance(value, date):
        return value
    raise TypeError(f"not a time: {value!r}")


def beijing(value, seconds=False):
    """Beijing time for a page: '2026-12-02 11:51' (or with seconds); '' for no time."""
    moment = as_cst(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return moment.isoformat()
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def beijing_date(value):
    moment = as_cst(value)
    return "" if moment is None else moment.strftime("%Y-%m-%d")
