"""Date fields as NetSuite treats them, for the sandbox (independent of the client's connectors/netsuite/dates.py).

A transaction date is stored as a plain date in the user's time zone. SOAP: an incoming xsd:dateTime is
converted to the user's time zone and its date kept (no offset means America/Los_Angeles); reads return
midnight of the stored date in the user's time zone, expressed in Pacific time (e.g. 2017-02-20T22:00:00.000-08:00
for 2017-02-21 and a GMT-06:00 user). REST takes and returns plain dates (YYYY-MM-DD); a REST datetime without
an offset is UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
UTC = ZoneInfo("UTC")
# date-only fields of the records the sandbox serves (xsd:dateTime in SOAP, "date" in REST)
DATE_FIELDS = frozenset({"tranDate", "dueDate", "discountDate", "taxPointDate", "reversalDate"})


class BadDate(ValueError):
    """A value that is not a valid date or dateTime."""


def _parse_instant(value: str, naive_zone: ZoneInfo) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadDate(f"{value!r} is not an xsd:dateTime") from exc
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=naive_zone)


def soap_value_to_date(value: str, user_zone: ZoneInfo) -> date:
    """The date NetSuite stores for a SOAP dateTime: the instant seen in the user's time zone."""
    if len(value.strip()) == 10:
        raise BadDate(f"{value!r}: SOAP date fields take an xsd:dateTime, not a plain date")
    return _parse_instant(value, PACIFIC).astimezone(user_zone).date()


def rest_value_to_date(value: object, user_zone: ZoneInfo) -> date:
    """The date stored for a REST value: a plain date as is, a datetime seen in the user's time zone."""
    if not isinstance(value, str):
        raise BadDate(f"{value!r} is not a date string")
    text = value.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise BadDate(f"{value!r} is not a YYYY-MM-DD date") from exc
    return _parse_instant(text, UTC).astimezone(user_zone).date()


def date_to_soap_value(day: date, user_zone: ZoneInfo) -> str:
    """Midnight of the stored date in the user's time zone, written in Pacific time with milliseconds."""
    pacific = datetime.combine(day, time(0, 0), tzinfo=user_zone).astimezone(PACIFIC)
    offset = pacific.strftime("%z")
    return pacific.strftime("%Y-%m-%dT%H:%M:%S.000") + f"{offset[:3]}:{offset[3:]}"


def period_of(day: date) -> str:
    """Accounting period key of a date (calendar month, YYYY-MM)."""
    return f"{day.year:04d}-{day.month:02d}"
