"""Local SuiteTalk-compatible sandbox (SOAP, REST record API, SuiteQL) for demos, tests and benchmarks."""

from .server import Sandbox, SandboxConfig, start_sandbox

__all__ = ["Sandbox", "SandboxConfig", "start_sandbox"]
