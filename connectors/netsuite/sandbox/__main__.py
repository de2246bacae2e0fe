"""`python -m connectors.netsuite.sandbox --port N`: serve the sandbox with credentials from NETSUITE_*."""

from __future__ import annotations

import argparse
import os
import sys

from ..config import DEFAULT_VERSION, FIXTURE_WSDL, Credentials
from .server import Sandbox, SandboxConfig


def main(argv: list[str] | None = None) -> int:
    """Parse flags (env defaults), start the server, serve until interrupted."""
    env = os.environ
    p = argparse.ArgumentParser(prog="python -m connectors.netsuite.sandbox")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(env.get("NETSUITE_SANDBOX_PORT", "0")))
    p.add_argument("--wsdl", default=env.get("NETSUITE_WSDL", str(FIXTURE_WSDL)))
    p.add_argument("--version", default=env.get("NETSUITE_VERSION", DEFAULT_VERSION))
    p.add_argument("--latency-ms", type=int, default=int(env.get("NETSUITE_SANDBOX_LATENCY_MS", "0")))
    p.add_argument("--fault-every", type=int, default=int(env.get("NETSUITE_SANDBOX_FAULT_EVERY", "0")),
                   help="answer every Nth accepted call with a concurrency fault (0 = never)")
    p.add_argument("--record-fault-every", type=int,
                   default=int(env.get("NETSUITE_SANDBOX_RECORD_FAULT_EVERY", "0")),
                   help="fail every Nth upserted record inside a list (0 = never)")
    p.add_argument("--timezone", default=env.get("NETSUITE_SANDBOX_TIMEZONE", "America/Los_Angeles"),
                   help="the web-services user's time zone preference (IANA name) the sandbox applies to dates")
    args = p.parse_args(argv)
    try:
        creds = Credentials.from_env()
    except Exception as exc:  # noqa: BLE001 - one clear line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sb = Sandbox(SandboxConfig(creds, wsdl=args.wsdl, version=args.version, latency_ms=args.latency_ms,
                               fault_every=args.fault_every, record_fault_every=args.record_fault_every,
                               user_timezone=args.timezone),
                 args.host, args.port)
    print(f"NetSuite sandbox listening on {sb.url} (SOAP {sb.url}/services/NetSuitePort_{args.version})",
          flush=True)
    try:
        sb.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sb.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
