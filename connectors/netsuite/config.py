"""NetSuite account, credentials and connector settings, read from the NETSUITE_* environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vgos.errors import InputError

from .model import PAYMENT_CONTROL_FIELD_IDS

DEFAULT_VERSION = "2023_2"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Oracle's WSDL and XSDs are not shipped with VGOS (no redistribution licence). A real account names its copy in
# NETSUITE_WSDL; a local endpoint (the sandbox, the demo) falls back to this development fixture when it exists.
FIXTURE_WSDL = REPO_ROOT.parent / "shared" / "fixtures" / "netsuite" / "suitetalk-2023_2" / "netsuite.wsdl"

MAX_BATCH_SIZE = 100  # records per synchronous upsertList: NetSuite refuses more
MAX_CONCURRENCY = 50  # sanity bound; the account's own limit (governance) is usually far lower
DEFAULT_CONCURRENCY = 2  # when the limit cannot be read: below the smallest tier's 5, leaving room for others
# (config field, environment variable, parser) of the network settings
NETWORK_ENV: tuple[tuple[str, str, type], ...] = (
    ("concurrency", "NETSUITE_CONCURRENCY", int),
    ("batch_size", "NETSUITE_BATCH_SIZE", int),
    ("connect_timeout_s", "NETSUITE_CONNECT_TIMEOUT_S", float),
    ("read_timeout_s", "NETSUITE_READ_TIMEOUT_S", float),
    ("max_attempts", "NETSUITE_MAX_ATTEMPTS", int),
    ("backoff_base_s", "NETSUITE_BACKOFF_BASE_S", float),
    ("backoff_max_s", "NETSUITE_BACKOFF_MAX_S", float),
    ("retry_after_max_s", "NETSUITE_RETRY_AFTER_MAX_S", float),
)

DEFAULT_FIELD_IDS: dict[str, str] = {
    "window_id": "custbody_vgos_window_id",
    "output_digest": "custbody_vgos_output_digest",
    "transcript_url": "custbody_vgos_transcript_url",
    "provider_batch_id": "custbody_vgos_provider_batch_id",
    "eligible_to_pay": "custbody_vgos_eligible_to_pay",
}
# payment-control fields (connectors/netsuite/model.py): the tenant a bill belongs to, and VGOS's own hold flag
CONTROL_FIELD_IDS: dict[str, str] = dict(PAYMENT_CONTROL_FIELD_IDS)
# every custom body field VGOS writes, by role
ALL_FIELD_IDS: dict[str, str] = {**DEFAULT_FIELD_IDS, **CONTROL_FIELD_IDS}
# environment variable naming each field id, e.g. NETSUITE_FIELD_WINDOW_ID=custbody_acme_window
FIELD_ENV: dict[str, str] = {key: f"NETSUITE_FIELD_{key.upper()}" for key in ALL_FIELD_IDS}
# a transaction body field's script id: custbody + lowercase letters, digits, underscores; NetSuite allows 40 chars
_FIELD_ID = re.compile(r"custbody[a-z0-9_]{1,32}")


def check_field_ids(field_ids: dict[str, str]) -> None:
    """Refuse field ids NetSuite cannot hold (or two roles on one field), naming the setting to fix."""
    if not set(DEFAULT_FIELD_IDS) <= set(field_ids) <= set(ALL_FIELD_IDS):
        missing = sorted(set(DEFAULT_FIELD_IDS) - set(field_ids))
        extra = sorted(set(field_ids) - set(ALL_FIELD_IDS))
        raise InputError(f"NetSuite field ids: need {', '.join(ALL_FIELD_IDS)}"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(extra)}" if extra else ""))
    seen: dict[str, str] = {}
    for key, value in field_ids.items():
        if not isinstance(value, str) or not _FIELD_ID.fullmatch(value):
            raise InputError(f"{FIELD_ENV[key]} must be a transaction body field id (custbody followed by "
                             f"lowercase letters, digits or _, at most 40 characters), got {value!r}")
        if value in seen:
            raise InputError(f"{FIELD_ENV[key]} and {FIELD_ENV[seen[value]]} both name {value}: each VGOS value "
                             "needs its own field")
        seen[value] = key


def check_wsdl_file(path: str, version: str) -> None:
    """A one-line configuration error unless path is a readable SuiteTalk WSDL of this version."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InputError(f"NETSUITE_WSDL={path}: cannot read the WSDL ({exc.strerror or exc}); download the "
                         f"SuiteTalk {version} WSDL with its xsd/ folder and point NETSUITE_WSDL at it") from None
    if b"definitions" not in head or f"messages_{version}.".encode() not in head:
        raise InputError(f"NETSUITE_WSDL={path}: not a SuiteTalk {version} WSDL (no urn:messages_{version} "
                         f"namespace); download the WSDL of NETSUITE_VERSION={version}")


@dataclass(frozen=True)
class Credentials:
    """Token-based authentication secrets (never logged, never written to files)."""

    account: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str

    def __repr__(self) -> str:
        return f"Credentials(account={self.account!r}, consumer_key=***, token_id=***)"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Credentials:
        """Read the five NETSUITE_* credential variables; a missing one is a configuration error."""
        env = dict(os.environ) if env is None else env
        names = {
            "account": "NETSUITE_ACCOUNT",
            "consumer_key": "NETSUITE_CONSUMER_KEY",
            "consumer_secret": "NETSUITE_CONSUMER_SECRET",
            "token_id": "NETSUITE_TOKEN_ID",
            "token_secret": "NETSUITE_TOKEN_SECRET",
        }
        missing = [v for v in names.values() if not env.get(v)]
        if missing:
            raise InputError(f"NetSuite credentials missing: set {', '.join(missing)}")
        return cls(**{k: env[v] for k, v in names.items()})


def account_slug(account: str) -> str:
    """Host label of an account id as NetSuite spells it (1234567_SB1 -> 1234567-sb1)."""
    return account.strip().lower().replace("_", "-")


@dataclass(frozen=True)
class NetSuiteConfig:
    """Everything a client needs: credentials, endpoint, WSDL, transport and tuning."""

    credentials: Credentials
    base_url: str | None = None
    version: str = DEFAULT_VERSION
    # path of the SuiteTalk WSDL (NETSUITE_WSDL); None = the development fixture, for a local endpoint only
    wsdl: str | None = None
    transport: str = "soap"
    # None = read the integration's concurrency limit from NetSuite (SOAP getIntegrationGovernanceInfo),
    # falling back to DEFAULT_CONCURRENCY when it cannot be read (REST, or an account that refuses the call).
    concurrency: int | None = None
    batch_size: int = MAX_BATCH_SIZE
    page_size: int = 1000
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    field_ids: dict[str, str] = field(default_factory=lambda: dict(ALL_FIELD_IDS))
    # IANA name of the web-services user's time zone preference (NETSUITE_TIMEZONE): SOAP bill dates are sent
    # and read back in it. Required for a real account; a local base_url falls back to Pacific with a warning
    # (connectors/netsuite/dates.py config_zone, docs/netsuite.md).
    timezone: str | None = None

    def __post_init__(self) -> None:
        self.check_network()
        # a mapping that names only the five stamped fields gets the payment-control defaults
        object.__setattr__(self, "field_ids", {**CONTROL_FIELD_IDS, **self.field_ids})
        check_field_ids(self.field_ids)
        if self.timezone is not None:
            from .dates import load_zone

            load_zone(self.timezone)

    def check_network(self) -> None:
        """Refuse network settings NetSuite would reject or that make no sense, with one clear line."""
        if self.concurrency is not None and not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InputError(f"NETSUITE_CONCURRENCY must be in 1..{MAX_CONCURRENCY}, got {self.concurrency}")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise InputError(f"NETSUITE_BATCH_SIZE must be in 1..{MAX_BATCH_SIZE} (NetSuite's synchronous "
                             f"upsertList limit), got {self.batch_size}")
        if not 1 <= self.max_attempts <= 100:
            raise InputError(f"NETSUITE_MAX_ATTEMPTS must be in 1..100, got {self.max_attempts}")
        for name in ("connect_timeout_s", "read_timeout_s", "backoff_max_s", "retry_after_max_s"):
            if not 0 < getattr(self, name) <= 86_400:  # also refuses nan and inf: a timeout that never fires
                raise InputError(f"NETSUITE_{name.upper()} must be > 0 and at most 86400 seconds, "
                                 f"got {getattr(self, name)}")
        if not 0 <= self.backoff_base_s <= 86_400:
            raise InputError(f"NETSUITE_BACKOFF_BASE_S must be in 0..86400 seconds, got {self.backoff_base_s}")

    def wsdl_path(self) -> str:
        """The WSDL the SOAP client loads, checked readable; missing or unreadable is one configuration line."""
        if self.wsdl:
            path = self.wsdl
        elif self.base_url and FIXTURE_WSDL.exists():
            path = str(FIXTURE_WSDL)  # local endpoint (sandbox, demo): the development copy of Oracle's WSDL
        else:
            raise InputError(f"NETSUITE_WSDL is not set: VGOS does not ship Oracle's WSDL; download the SuiteTalk "
                             f"{self.version} WSDL and its xsd/ folder (https://webservices.netsuite.com/wsdl/"
                             f"v{self.version}_0/netsuite.wsdl) and set NETSUITE_WSDL to the netsuite.wsdl file")
        check_wsdl_file(path, self.version)
        return path

    @property
    def timeout_s(self) -> float:
        """The read timeout (kept for callers that predate separate connect/read timeouts)."""
        return self.read_timeout_s

    @property
    def root_url(self) -> str:
        """Scheme and host of the account (or NETSUITE_BASE_URL), without a trailing slash."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{account_slug(self.credentials.account)}.suitetalk.api.netsuite.com"

    @property
    def soap_url(self) -> str:
        """SuiteTalk SOAP endpoint of the account for the configured version."""
        return f"{self.root_url}/services/NetSuitePort_{self.version}"

    @property
    def rest_url(self) -> str:
        """Root of the REST web services of the account."""
        return f"{self.root_url}/services/rest"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> NetSuiteConfig:
        """Build the configuration from NETSUITE_* variables; keyword overrides win."""
        env = dict(os.environ) if env is None else env
        kwargs: dict[str, object] = {"credentials": Credentials.from_env(env)}
        if env.get("NETSUITE_BASE_URL"):
            kwargs["base_url"] = env["NETSUITE_BASE_URL"]
        if env.get("NETSUITE_VERSION"):
            kwargs["version"] = env["NETSUITE_VERSION"]
        if env.get("NETSUITE_WSDL"):
            kwargs["wsdl"] = env["NETSUITE_WSDL"]
        if env.get("NETSUITE_TRANSPORT"):
            kwargs["transport"] = env["NETSUITE_TRANSPORT"]
        if env.get("NETSUITE_TIMEZONE"):
            kwargs["timezone"] = env["NETSUITE_TIMEZONE"]
        field_ids = {key: env.get(var) or ALL_FIELD_IDS[key] for key, var in FIELD_ENV.items()}
        if field_ids != ALL_FIELD_IDS:
            kwargs["field_ids"] = field_ids
        for name, var, kind in NETWORK_ENV:
            if env.get(var):
                try:
                    kwargs[name] = kind(env[var])
                except ValueError as exc:
                    what = "an integer" if kind is int else "a number"
                    raise InputError(f"{var} must be {what}, got {env[var]!r}") from exc
        kwargs.update(overrides)
        cfg = cls(**kwargs)  # type: ignore[arg-type]
        if cfg.transport not in ("soap", "rest"):
            raise InputError(f"NETSUITE_TRANSPORT must be 'soap' or 'rest', got {cfg.transport!r}")
        return cfg
