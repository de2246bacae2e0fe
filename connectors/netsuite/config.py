"""NetSuite account, credentials and connector settings, read from the NETSUITE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vgos.errors import InputError

DEFAULT_VERSION = "2023_2"
REPO_ROOT = Path(__file__).resolve().parents[2]
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
    wsdl: str = str(FIXTURE_WSDL)
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
    field_ids: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_IDS))
    # IANA name of the web-services user's time zone preference (NETSUITE_TIMEZONE): SOAP bill dates are sent
    # and read back in it. Required for a real account; a local base_url falls back to Pacific with a warning
    # (connectors/netsuite/dates.py config_zone, docs/netsuite.md).
    timezone: str | None = None

    def __post_init__(self) -> None:
        self.check_network()
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
            if not getattr(self, name) > 0:
                raise InputError(f"NETSUITE_{name.upper()} must be > 0, got {getattr(self, name)}")
        if self.backoff_base_s < 0:
            raise InputError(f"NETSUITE_BACKOFF_BASE_S must be >= 0, got {self.backoff_base_s}")

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
