"""Bill dates as NetSuite means them: a plain date in the web-services user's time zone.

SOAP carries date fields as xsd:dateTime. NetSuite converts the instant we send to the user's time zone
and keeps its date; on reads it returns midnight of the stored date in the user's time zone, written in
Pacific time (America/Los_Angeles). So we send noon of the wanted date in the configured zone (the date
survives any error of up to eleven hours in that setting) and read a value back by converting it to the
configured zone before taking its date. REST takes and returns plain dates (YYYY-MM-DD).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vgos.errors import InputError

PACIFIC = "America/Los_Angeles"


def load_zone(name: str, setting: str = "NETSUITE_TIMEZONE") -> ZoneInfo:
    """The IANA zone for a configured name; anything else is a configuration error naming the setting."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise InputError(f"{setting} must be an IANA time zone name such as America/New_York, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"{setting} must be an IANA time zone name such as America/New_York, got {name!r}") \
            from exc


def parse_day(day: str) -> date:
    """A YYYY-MM-DD date (the bill's date); anything else is an input error."""
    try:
        if len(day) != 10:
            raise ValueError(day)
        return date.fromisoformat(day)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bill date must be YYYY-MM-DD, got {day!r}") from exc


def soap_datetime(day: str, zone: ZoneInfo) -> str:
    """The xsd:dateTime to send so NetSuite stores `day` for a user in `zone` (noon local, explicit offset)."""
    moment = datetime.combine(parse_day(day), time(12, 0), tzinfo=zone)
    return moment.isoformat()


def date_from_soap(value: str | None, zone: ZoneInfo) -> str | None:
    """The stored date behind a SOAP read: the instant seen in the user's zone (no offset means Pacific)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:
        return parse_day(text).isoformat()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return value  # not a dateTime: report it as it is, drift will show it
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(PACIFIC))
    return moment.astimezone(zone).date().isoformat()


def date_from_rest(value: str | None) -> str | None:
    """A REST date field: already a plain date (a datetime keeps its date part as written)."""
    if value is None or not str(value).strip():
        return None
    return str(value).strip()[:10]


_log = logging.getLogger(__name__)
_warned: set[str] = set()


def config_zone(config: Any) -> ZoneInfo:
    """The zone a client uses for SOAP dates (config.timezone); never a silent guess for a real account.

    A real account (no base_url override) must state NETSUITE_TIMEZONE: without it, dates would be read in the
    wrong zone. A local endpoint (sandbox, proxy) falls back to Pacific, said out loud once per process.
    """
    timezone = getattr(config, "timezone", None)
    if timezone is not None:
        return load_zone(timezone)
    if not getattr(config, "base_url", None):
        raise InputError("NETSUITE_TIMEZONE is required: set it to the IANA time zone of the web-services user's "
                         "preference (e.g. America/New_York) so bill dates land on the window's close date")
    if "unset" not in _warned:
        _warned.add("unset")
        _log.warning("NETSUITE_TIMEZONE is not set: SOAP bill dates assume the web-services user's time zone "
                     "is %s; set it to that user's time zone preference", PACIFIC)
    return ZoneInfo(PACIFIC)


def zone_label(config: Any) -> str:
    """How bill dates are sent, for the CLI: the zone and where it came from (REST needs none)."""
    if getattr(config, "transport", "soap") == "rest":
        return "plain dates (REST: no time zone conversion)"
    if getattr(config, "timezone", None):
        return f"time zone {config.timezone} (NETSUITE_TIMEZONE)"
    if getattr(config, "base_url", None):
        return f"time zone {PACIFIC} (NETSUITE_TIMEZONE not set: local endpoint fallback)"
    return "time zone not set (NETSUITE_TIMEZONE is required for a real account)"
