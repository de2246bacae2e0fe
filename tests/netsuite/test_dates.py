"""Bill dates as NetSuite means them: a date in the user's time zone, sent and read back through SOAP's dateTimes."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from connectors.netsuite.config import FIXTURE_WSDL, NetSuiteConfig
from connectors.netsuite.dates import date_from_soap, load_zone, soap_datetime
from connectors.netsuite.model import bill_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.sandbox.dates import date_to_soap_value, soap_value_to_date
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import sync_window, verify_window
from tests.netsuite.conftest import CREDS, NO_SLEEP, config_for, decisions, window
from vgos.errors import InputError


def _stored_day(sb, external_id: str) -> date:
    rec = sb.store.get("vendorBill", external_id=external_id)
    return sb.rules.stored_date(rec)


# -- Oracle's table ("Using the dateTime Type in NetSuite"), as the sandbox implements it ----------------------
@pytest.mark.parametrize(("sent", "user_zone", "stored", "returned"), [
    ("2017-02-21T00:00:00.000-06:00", "America/Chicago", "2017-02-21", "2017-02-20T22:00:00.000-08:00"),
    ("2017-08-21T00:00:00.000-05:00", "America/Chicago", "2017-08-21", "2017-08-20T22:00:00.000-07:00"),
    ("2017-02-21T00:00:00.000-05:00", "America/Los_Angeles", "2017-02-20", "2017-02-20T00:00:00.000-08:00"),
    ("2025-09-23T00:00:00Z", "America/New_York", "2025-09-22", "2025-09-21T21:00:00.000-07:00"),
    ("2025-09-23T00:00:00", "America/Los_Angeles", "2025-09-23", "2025-09-23T00:00:00.000-07:00"),
])
def test_sandbox_dates_follow_the_documented_conversion(sent: str, user_zone: str, stored: str,
                                                        returned: str) -> None:
    zone = ZoneInfo(user_zone)
    day = soap_value_to_date(sent, zone)
    assert day.isoformat() == stored
    assert date_to_soap_value(day, zone) == returned


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo",
                                  "Pacific/Auckland", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"])
@pytest.mark.parametrize("day", ["2025-09-23", "2025-03-09", "2025-11-02", "2025-10-01", "2024-12-31"])
def test_client_date_round_trips_through_the_sandbox_rules_in_every_zone(zone: str, day: str) -> None:
    tz = ZoneInfo(zone)
    stored = soap_value_to_date(soap_datetime(day, tz), tz)  # what NetSuite keeps from what we send
    assert stored.isoformat() == day
    assert date_from_soap(date_to_soap_value(stored, tz), tz) == day  # what we read back from what it returns


def test_timezone_setting_is_validated() -> None:
    assert load_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    for bad in ("Mars/Olympus", "", " America/New_York", "EST5EDT/x"):
        with pytest.raises(InputError, match="NETSUITE_TIMEZONE"):
            load_zone(bad)
    with pytest.raises(InputError, match="NETSUITE_TIMEZONE"):
        NetSuiteConfig(credentials=CREDS, timezone="Not/AZone")
    env = {"NETSUITE_ACCOUNT": "A", "NETSUITE_CONSUMER_KEY": "k", "NETSUITE_CONSUMER_SECRET": "s",
           "NETSUITE_TOKEN_ID": "t", "NETSUITE_TOKEN_SECRET": "ts", "NETSUITE_TIMEZONE": "America/Chicago"}
    assert NetSuiteConfig.from_env(env).timezone == "America/Chicago"
    with pytest.raises(InputError, match="NETSUITE_TIMEZONE"):
        NetSuiteConfig.from_env({**env, "NETSUITE_TIMEZONE": "Chicago"})


def test_a_real_account_must_state_its_time_zone_a_local_endpoint_falls_back_loudly(caplog) -> None:
    import logging

    from connectors.netsuite import dates
    from connectors.netsuite.stamping import build_bill_specs

    spec = build_bill_specs(**window())[0]
    # a real account names its WSDL (NETSUITE_WSDL) and its time zone; here only the zone is missing
    real = SuiteTalkClient(NetSuiteConfig(credentials=CREDS, wsdl=str(FIXTURE_WSDL)))
    with pytest.raises(InputError, match="NETSUITE_TIMEZONE is required"):
        real.bill_record(spec)
    stated = SuiteTalkClient(NetSuiteConfig(credentials=CREDS, timezone="Europe/Berlin", wsdl=str(FIXTURE_WSDL)))
    assert stated.bill_record(spec).tranDate == "2025-09-23T12:00:00+02:00"
    dates._warned.discard("unset")
    local = SuiteTalkClient(NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9"))
    with caplog.at_level(logging.WARNING, logger="connectors.netsuite.dates"):
        assert local.bill_record(spec).tranDate == "2025-09-23T12:00:00-07:00"
    assert "NETSUITE_TIMEZONE is not set" in caplog.text


def test_bill_date_must_be_a_plain_date() -> None:
    from connectors.netsuite.stamping import build_bill_specs

    with pytest.raises(InputError, match="YYYY-MM-DD"):
        build_bill_specs(**window(tran_date="2025-09-23T00:00:00Z"))


# -- end to end over HTTP --------------------------------------------------------------------------------
@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland", "Pacific/Honolulu"])
def test_soap_bill_lands_on_its_date_and_verify_reports_no_drift(sandbox_factory, zone: str) -> None:
    sb = sandbox_factory(user_timezone=zone)
    client = SuiteTalkClient(config_for(sb, timezone=zone), retry=NO_SLEEP)
    first = sync_window(client, **window())
    assert first.ok and len(first.created) == 3
    for pid in ("CRE-0001", "CRE-0002", "CRE-0003"):
        assert _stored_day(sb, bill_external_id("default", "2025-09-23", pid)) == date(2025, 9, 23)
    drift = verify_window(client, **window())
    assert drift.ok, drift.items
    again = sync_window(client, **window())
    assert again.updated == [] and len(again.unchanged) == 3


def test_a_window_dated_the_first_posts_in_its_own_month(sandbox_factory) -> None:
    sb = sandbox_factory(user_timezone="America/Chicago")
    sb.store.close_period("2025-09")  # September is closed: a bill that slips to the 30th is refused
    w = window(window_id="2025-10-01", tran_date="2025-10-01", decisions=decisions())
    client = SuiteTalkClient(config_for(sb, timezone="America/Chicago"), retry=NO_SLEEP)
    report = sync_window(client, **w)
    assert report.ok and len(report.created) == 3, report.failed
    for rec in sb.store.all("vendorBill"):
        assert sb.rules.stored_date(rec) == date(2025, 10, 1)
    assert verify_window(client, **w).ok


def test_rest_sends_plain_dates_and_reads_the_same_bill_as_soap(sandbox_factory) -> None:
    sb = sandbox_factory(user_timezone="Asia/Tokyo")
    rest = RestClient(config_for(sb, transport="rest", timezone="Asia/Tokyo"), retry=NO_SLEEP)
    assert rest.bill_body(next(iter(_specs())))["tranDate"] == "2025-09-23"
    assert sync_window(rest, **window()).ok
    assert {_stored_day(sb, r.external_id) for r in sb.store.all("vendorBill")} == {date(2025, 9, 23)}
    soap = SuiteTalkClient(config_for(sb, timezone="Asia/Tokyo"), retry=NO_SLEEP)
    assert verify_window(rest, **window()).ok and verify_window(soap, **window()).ok
    assert len(sync_window(soap, **window()).unchanged) == 3


def _specs():
    from connectors.netsuite.stamping import build_bill_specs

    return build_bill_specs(**window())
