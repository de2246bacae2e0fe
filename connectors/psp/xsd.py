"""Locate and load the official ISO 20022 XSDs kept in the shared fixtures (override: VGOS_ISO20022_XSD_DIR)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from lxml import etree

import connectors
from vgos.errors import InputError


def xsd_dir() -> Path:
    """Folder of the ISO 20022 XSDs: `VGOS_ISO20022_XSD_DIR`, else ../shared/fixtures/iso20022/xsd."""
    env = os.environ.get("VGOS_ISO20022_XSD_DIR")
    if env:
        return Path(env)
    return Path(connectors.__file__).resolve().parents[1].parent / "shared" / "fixtures" / "iso20022" / "xsd"


@lru_cache(maxsize=8)
def _schema(path: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(path, parser))


def schema(message: str) -> etree.XMLSchema:
    """The compiled XSD of a message such as `pain.001.001.09` (cached per process)."""
    path = xsd_dir() / f"{message}.xsd"
    if not path.is_file():
        raise InputError(f"{path}: XSD for {message} not found (set VGOS_ISO20022_XSD_DIR)")
    return _schema(str(path))


def validation_errors(message: str, doc: etree._ElementTree | etree._Element) -> list[str]:
    """Validate a document against the message XSD; returns 'line N: message' strings (empty when valid)."""
    xs = schema(message)
    if xs.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xs.error_log]
