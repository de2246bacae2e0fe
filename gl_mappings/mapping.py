"""Load and validate a tenant's own GL mapping (default.yaml gives labels only) with errors naming file and line.

Every internal id (accounts, subsidiary, department, class, currencies) comes from the tenant's own file:
an explicit path (`--gl-mapping`), else $VGOS_GL_MAPPING, else gl_mappings/tenants/<tenant>.yaml. A tenant
with none of these gets a one-line configuration error (InputError, exit 2), never someone else's ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vgos.errors import InputError

GL_DIR = Path(__file__).resolve().parent
DEFAULT_FILE = GL_DIR / "default.yaml"
TENANTS_DIR = GL_DIR / "tenants"
# the demo's own explicit mapping (`vgos demo`, tests); never loaded for a tenant unless named explicitly
DEMO_FILE = GL_DIR / "demo.yaml"
ENV_VAR = "VGOS_GL_MAPPING"

# component name -> allocation field (seal, SPEC §5)
COMPONENT_FIELDS: dict[str, str] = {"net": "net_minor", "bonus": "bonus_floor_minor", "carry": "carry_minor"}
# liability accounts of the GL model (docs/netsuite.md "GL model")
LIABILITIES = ("clearing", "held")
_TOP_KEYS = {"subsidiary", "department", "class", "components", "clearing", "held", "currencies"}
_ENTRY_KEYS = {"account", "department", "class", "memo"}
# keys that carry NetSuite internal ids: only a tenant's own file may state them
_ID_KEYS = {"subsidiary", "department", "class", "account", "currencies"}
_RETIRED = {"payables": "replaced by 'clearing' (payout clearing) and 'held' (held payouts); see docs/netsuite.md "
                        "'GL model'"}


@dataclass(frozen=True)
class AccountRef:
    """A GL account with the segments NetSuite posts it under."""

    account: str
    department: str | None = None
    class_: str | None = None
    memo: str | None = None

    def segment_key(self) -> tuple[str, str | None, str | None]:
        """What a journal line is aggregated by (account and segments)."""
        return (self.account, self.department, self.class_)


@dataclass(frozen=True)
class GLMapping:
    """One tenant's mapping: expense account per component, clearing and held liabilities, ids of its account."""

    sources: tuple[str, ...]
    subsidiary: str | None
    components: dict[str, AccountRef]
    clearing: AccountRef
    held: AccountRef
    currencies: dict[str, str] = field(default_factory=dict)

    def currency_id(self, currency: str) -> str:
        """NetSuite internal id of a currency; unmapped is a configuration error."""
        try:
            return self.currencies[currency]
        except KeyError:
            raise InputError(
                f"{self.sources[-1]}: field currencies.{currency}: no NetSuite currency id mapped"
            ) from None

    def liability(self, eligible: bool) -> AccountRef:
        """The liability the accrual journal credits for a payee: clearing when eligible, held when held."""
        return self.clearing if eligible else self.held

    def bill_line(self, component: str, eligible: bool) -> AccountRef:
        """Account a bill line is coded to: the journal's liability (so expense is counted once), component memo."""
        liab = self.liability(eligible)
        return AccountRef(liab.account, liab.department, liab.class_, self.components[component].memo)


def _line_of(text: str, keys: list[str]) -> int | None:
    """1-based line of a key path in a YAML text (best effort, for error messages)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if k.value == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read GL mapping: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{path}{where}: invalid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: GL mapping must be a mapping at the top level")
    return data, text


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _id_paths(data: Any, prefix: list[str]) -> list[list[str]]:
    """Key paths in a parsed mapping that state an internal id."""
    found: list[list[str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if str(k) in _ID_KEYS:
                found.append([*prefix, str(k)])
            else:
                found.extend(_id_paths(v, [*prefix, str(k)]))
    return found


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _validate(base: tuple[Path, dict[str, Any], str], own: tuple[Path, dict[str, Any], str]) -> GLMapping:
    files = [base, own]

    def fail(keys: list[str], message: str) -> InputError:
        # blame the last file that mentions the key path, else the tenant's file
        for path, _, text in reversed(files):
            line = _line_of(text, keys)
            if line is not None:
                return InputError(f"{path}:{line}: field {'.'.join(keys)}: {message}")
        return InputError(f"{own[0]}: field {'.'.join(keys)}: {message}")

    for keys in _id_paths(base[1], []):  # default.yaml is shared: it may label, never hand out ids
        line = _line_of(base[2], keys)
        raise InputError(f"{base[0]}{f':{line}' if line else ''}: field {'.'.join(keys)}: internal ids belong in "
                         "each tenant's own GL mapping, not in the shared defaults")
    merged = _merge(base[1], own[1])
    for key in merged:
        if key in _RETIRED:
            raise fail([key], _RETIRED[key])
        if key not in _TOP_KEYS:
            raise fail([key], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "subsidiary" not in own[1]:
        raise fail(["subsidiary"], "missing: state the subsidiary internal id (null for an account without "
                                   "subsidiaries)")
    comps = merged.get("components")
    if not isinstance(comps, dict) or not comps:
        raise fail(["components"], "missing: map each of net, bonus, carry to an expense account")

    def entry(keys: list[str], raw: Any) -> AccountRef:
        if not isinstance(raw, dict):
            raise fail(keys, "missing: a mapping with at least 'account'")
        for k in raw:
            if k not in _ENTRY_KEYS:
                raise fail([*keys, str(k)], f"unknown key (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
        account = raw.get("account")
        if account is None or str(account).strip() == "":
            raise fail([*keys, "account"] if "account" in raw else keys, "missing GL account")
        return AccountRef(
            account=str(account),
            department=_str_or_none(raw.get("department", merged.get("department"))),
            class_=_str_or_none(raw.get("class", merged.get("class"))),
            memo=_str_or_none(raw.get("memo")),
        )

    for name in comps:
        if name not in COMPONENT_FIELDS:
            raise fail(["components", str(name)],
                       f"unknown allocation component (known: {', '.join(COMPONENT_FIELDS)})")
    components = {name: entry(["components", name], raw) for name, raw in comps.items()}
    for name in COMPONENT_FIELDS:
        if name not in components:
            raise fail(["components"], f"component {name!r} is not mapped to an account")
    clearing, held = (entry([name], merged.get(name)) for name in LIABILITIES)
    expense_accounts = {ref.account for ref in components.values()}
    for name, ref in (("clearing", clearing), ("held", held)):
        if ref.account in expense_accounts:
            raise fail([name, "account"], f"account {ref.account} is also an expense account: the {name} "
                                          "liability must be its own account")
    if clearing.account == held.account:
        raise fail(["held", "account"], "must differ from clearing.account (held payouts are tracked apart)")
    currencies_raw = merged.get("currencies")
    if not isinstance(currencies_raw, dict) or not currencies_raw:
        raise fail(["currencies"], "missing: map each ISO 4217 code the tenant pays in to its NetSuite currency id")
    return GLMapping(
        sources=tuple(str(p) for p, _, _ in files),
        subsidiary=_str_or_none(merged.get("subsidiary")),
        components=components,
        clearing=clearing,
        held=held,
        currencies={str(k): str(v) for k, v in currencies_raw.items()},
    )


def tenant_mapping_path(tenant: str | None, path: str | Path | None = None, root: Path = GL_DIR) -> Path:
    """The tenant's own mapping file: explicit path, else $VGOS_GL_MAPPING, else <root>/tenants/<tenant>.yaml."""
    if path:
        return Path(path)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    name = tenant or "default"
    candidate = root / "tenants" / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    raise InputError(f"no GL mapping for tenant {name!r}: write {candidate} with the tenant's own NetSuite "
                     f"accounts (docs/netsuite.md 'GL model'), or pass --gl-mapping FILE / set {ENV_VAR}")


def load_gl_mapping(tenant: str | None = None, path: str | Path | None = None,
                    root: Path = GL_DIR) -> GLMapping:
    """The tenant's own mapping over the id-free labels of default.yaml, validated; no mapping is an InputError."""
    own = tenant_mapping_path(tenant, path, root)
    base_path = root / "default.yaml"
    base = (base_path, *_read(base_path)) if base_path.is_file() else (base_path, {}, "")
    return _validate(base, (own, *_read(own)))
