"""VGOS package."""
