"""transcript_url on a bill is a link an auditor can open (public base or presigned S3), never a server path."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
import requests

from connectors.netsuite.config import NetSuiteConfig
from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
from connectors.netsuite.transcript_link import BASE_URL_ENV, transcript_link
from tests.netsuite.conftest import CREDS
from tests.netsuite.test_cli_window import authorized_window  # noqa: F401 - fixture
from vgos.errors import InputError
from vgos_app.cli import main
from vgos_app.demo import SEED_WINDOW

LOCAL = "/srv/vgos/artifacts/transcripts/default/2025-09-23/" + "ab" * 32
REAL = NetSuiteConfig(credentials=CREDS)  # no NETSUITE_BASE_URL: a real account
DEMO = NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9")


def test_public_base_url_plus_the_transcripts_relative_path() -> None:
    link = transcript_link(LOCAL, REAL, env={BASE_URL_ENV: "https://audit.example.com/vgos/"})
    assert link == f"https://audit.example.com/vgos/transcripts/default/2025-09-23/{'ab' * 32}/"
    with pytest.raises(InputError, match=BASE_URL_ENV):
        transcript_link(LOCAL, REAL, env={BASE_URL_ENV: "/var/www"})


def test_a_real_account_never_gets_a_server_path() -> None:
    """Old code stamped ref.url, the folder on the server's disk, on every bill."""
    with pytest.raises(InputError) as err:
        transcript_link(LOCAL, REAL, env={})
    assert BASE_URL_ENV in str(err.value) and "\n" not in str(err.value)


def test_the_local_sandbox_gets_a_file_url_that_says_demo() -> None:
    assert transcript_link(LOCAL, DEMO, env={}) == f"file://{LOCAL}"


def test_presigned_s3_link_opens_and_is_stable_for_the_day(moto_server, monkeypatch) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="vgos-art")
    key = "art/transcripts/default/2025-09-23/" + "cd" * 32
    s3.put_object(Bucket="vgos-art", Key=f"{key}/index.json", Body=b'{"schema":"t"}')
    url = f"s3://vgos-art/{key}"
    morning = dt.datetime(2030, 1, 2, 8, 0, tzinfo=dt.UTC)
    link = transcript_link(url, REAL, env={}, now=morning)
    assert link.startswith(moto_server) and "X-Amz-Signature=" in link and "X-Amz-Expires=604800" in link
    assert requests.get(link, timeout=10).content == b'{"schema":"t"}'
    # the same day gives the same URL (a re-sync rewrites nothing); the next day a fresh one
    assert transcript_link(url, REAL, env={}, now=morning.replace(hour=23)) == link
    assert transcript_link(url, REAL, env={}, now=morning + dt.timedelta(days=1)) != link
    # the signature is botocore's own for a request made at 00:00 UTC (checked with botocore's presigner)
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: dt.datetime(2030, 1, 2, 0, 0))
    from botocore.config import Config

    v4 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      config=Config(signature_version="s3v4"))
    expected = v4.generate_presigned_url("get_object", Params={"Bucket": "vgos-art", "Key": f"{key}/index.json"},
                                         ExpiresIn=604800)
    assert link == expected


def test_cli_sync_stamps_the_public_link_and_verify_sees_no_drift(authorized_window, sandbox,  # noqa: F811
                                                                  monkeypatch, capsys) -> None:
    """Old code: the bill's transcript_url was the transcript folder's path on the server."""
    monkeypatch.setenv(BASE_URL_ENV, "https://audit.example.com/vgos")
    args = [SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]
    assert main(["netsuite", "sync", *args]) == 0
    values = {cf.get("scriptId"): cf.findtext("{*}value") for rec in sandbox.store.all("vendorBill")
              for cf in rec.fields["customFieldList"]}
    stamped = values["custbody_vgos_transcript_url"]
    assert stamped.startswith("https://audit.example.com/vgos/transcripts/default/2025-09-23/")
    assert main(["netsuite", "verify", *args]) == 0
    capsys.readouterr()
    assert main(["netsuite", "sync", *args]) == 0
    assert "unchanged=" in capsys.readouterr().out


def test_link_identity_drops_only_a_presigned_links_query() -> None:
    from connectors.netsuite.transcript_link import link_identity

    v4 = ("https://b.s3.amazonaws.com/t/index.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20300102T000000Z"
          "&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=ab12")
    v2 = "https://b.s3.amazonaws.com/t/index.json?AWSAccessKeyId=AK&Signature=x%2By&Expires=1893456000"
    assert link_identity(v4) == link_identity(v2) == "https://b.s3.amazonaws.com/t/index.json"
    for kept in ("https://audit.example.com/vgos/transcripts/t/w/d/", "https://x.example/t?id=1",
                 "https://x.example/t?Signature=only", "file:///srv/t", "", None):
        assert link_identity(kept) == kept


def test_a_next_day_verify_of_a_presigned_link_is_no_drift(sandbox, monkeypatch, tmp_path) -> None:
    """A presigned link's signature changes every day; verify compares the object it points at, not the signature.

    Old code compared the whole URL, so `verify` the day after a sync reported every bill as drift."""
    from connectors.netsuite.soap_client import SuiteTalkClient
    from connectors.netsuite.stamping import sync_window, verify_window
    from tests.netsuite.conftest import DIGEST, NO_SLEEP, config_for, window

    for var, value in {"AWS_ACCESS_KEY_ID": "AKIAVGOSTEST", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(var, value)  # presigning is local: nothing is sent to S3
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    location = f"s3://vgos-art/art/transcripts/default/2025-09-23/{DIGEST}"
    day1 = dt.datetime(2030, 1, 2, 9, 0, tzinfo=dt.UTC)
    link1 = transcript_link(location, REAL, env={}, now=day1)
    link2 = transcript_link(location, REAL, env={}, now=day1 + dt.timedelta(days=1))
    assert link1 != link2 and "X-Amz-Signature=" in link2
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    assert sync_window(client, **window(transcript_url=link1)).ok
    assert verify_window(client, **window(transcript_url=link2)).ok  # same transcript, next day's signature
    # a link to another transcript (another object) is still drift, signature or not
    other = transcript_link(location.replace(DIGEST, "ef" * 32), REAL, env={}, now=day1 + dt.timedelta(days=1))
    drift = verify_window(client, **window(transcript_url=other))
    assert [i.kind for i in drift.items] == ["FIELD_DIFFERS"] * 3
    assert all(i.expected == f"transcript_url={other}" and i.actual == f"transcript_url={link1}"
               for i in drift.items)
    # a sync on the next day still refreshes the stamped link (so it stays openable within its 7 days)
    assert len(sync_window(client, **window(transcript_url=link2)).updated) == 3
    assert verify_window(client, **window(transcript_url=link2)).ok
