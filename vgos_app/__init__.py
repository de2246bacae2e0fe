"""Composition root: the `vgos` command and the demo, the one place that wires the kernel (`vgos`) to the outer
packages (connectors, recon, evidence_pack, vgos_assets); the kernel imports none of them."""
