"""NetSuite account, credentials and connector settings, read from the NETSUITE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vgos.errors import InputError

DEFAULT_VERSION = "2023_2"
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_WSDL = REPO_ROOT.parent / "shared" / "fixtures" / "netsuite" / "suitetalk-2023_2" / "netsuite.wsdl"

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
    concurrency: int = 5
    batch_size: int = 100
    page_size: int = 1000
    timeout_s: float = 60.0
    field_ids: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_IDS))

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
        for name, var in (("concurrency", "NETSUITE_CONCURRENCY"), ("batch_size", "NETSUITE_BATCH_SIZE")):
            if env.get(var):
                try:
                    kwargs[name] = int(env[var])
                except ValueError as exc:
                    raise InputError(f"{var} must be an integer, got {env[var]!r}") from exc
        kwargs.update(overrides)
        cfg = cls(**kwargs)  # type: ignore[arg-type]
        if cfg.transport not in ("soap", "rest"):
            raise InputError(f"NETSUITE_TRANSPORT must be 'soap' or 'rest', got {cfg.transport!r}")
        if cfg.concurrency < 1 or not 1 <= cfg.batch_size <= 1000:
            raise InputError("NETSUITE_CONCURRENCY must be >= 1 and NETSUITE_BATCH_SIZE in 1..1000")
        return cfg
