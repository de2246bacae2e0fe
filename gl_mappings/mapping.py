"""Load and validate GL mapping files (default plus per-tenant overrides) with errors naming file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vgos.errors import InputError

GL_DIR = Path(__file__).resolve().parent
DEFAULT_FILE = GL_DIR / "default.yaml"

# component name -> allocation field (seal, SPEC §5)
COMPONENT_FIELDS: dict[str, str] = {"net": "net_minor", "bonus": "bonus_floor_minor", "carry": "carry_minor"}
_TOP_KEYS = {"subsidiary", "department", "class", "components", "payables", "currencies"}
_ENTRY_KEYS = {"account", "department", "class", "memo"}


@dataclass(frozen=True)
class AccountRef:
    """A GL account with the segments NetSuite posts it under."""

    account: str
    department: str | None = None
    class_: str | None = None
    memo: str | None = None


@dataclass(frozen=True)
class GLMapping:
    """Validated mapping: expense account per component, payables account, subsidiary, currency ids."""

    sources: tuple[str, ...]
    subsidiary: str | None
    components: dict[str, AccountRef]
    payables: AccountRef
    currencies: dict[str, str] = field(default_factory=dict)

    def currency_id(self, currency: str) -> str:
        """NetSuite internal id of a currency; unmapped is a configuration error."""
        try:
            return self.currencies[currency]
        except KeyError:
            raise InputError(
                f"{self.sources[-1]}: field currencies.{currency}: no NetSuite currency id mapped"
            ) from None


def _line_of(path: Path, text: str, keys: list[str]) -> int | None:
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
        raise InputError(f"{path}{where}: invalid YAML: {exc}") from exc
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


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _validate(files: list[tuple[Path, dict[str, Any], str]]) -> GLMapping:
    def fail(keys: list[str], message: str) -> InputError:
        # blame the last file that mentions the key path, else the last file
        for path, _, text in reversed(files):
            line = _line_of(path, text, keys)
            if line is not None:
                return InputError(f"{path}:{line}: field {'.'.join(keys)}: {message}")
        path = files[-1][0]
        return InputError(f"{path}: field {'.'.join(keys)}: {message}")

    merged: dict[str, Any] = {}
    for _, data, _ in files:
        merged = _merge(merged, data)
    for key in merged:
        if key not in _TOP_KEYS:
            raise fail([key], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    comps = merged.get("components")
    if not isinstance(comps, dict) or not comps:
        raise fail(["components"], "missing: map each of net, bonus, carry to an account")

    def entry(keys: list[str], raw: Any) -> AccountRef:
        if not isinstance(raw, dict):
            raise fail(keys, "must be a mapping with at least 'account'")
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

    components: dict[str, AccountRef] = {}
    for name, raw in comps.items():
        if name not in COMPONENT_FIELDS:
            raise fail(["components", str(name)],
                       f"unknown allocation component (known: {', '.join(COMPONENT_FIELDS)})")
        components[name] = entry(["components", name], raw)
    for name in COMPONENT_FIELDS:
        if name not in components:
            raise fail(["components"], f"component {name!r} is not mapped to an account")
    payables = entry(["payables"], merged.get("payables"))
    currencies_raw = merged.get("currencies") or {}
    if not isinstance(currencies_raw, dict):
        raise fail(["currencies"], "must map ISO 4217 codes to NetSuite currency ids")
    return GLMapping(
        sources=tuple(str(p) for p, _, _ in files),
        subsidiary=_str_or_none(merged.get("subsidiary")),
        components=components,
        payables=payables,
        currencies={str(k): str(v) for k, v in currencies_raw.items()},
    )


def load_gl_mapping(tenant: str | None = None, path: str | Path | None = None,
                    root: Path = GL_DIR) -> GLMapping:
    """Load default.yaml, then the override (explicit path, else <root>/<tenant>.yaml if present), validated."""
    files = [(root / "default.yaml", *_read(root / "default.yaml"))]
    override: Path | None = Path(path) if path else None
    if override is None and tenant and tenant != "default":
        candidate = root / f"{tenant}.yaml"
        if candidate.exists():
            override = candidate
    if override is not None:
        files.append((override, *_read(override)))
    return _validate(files)
