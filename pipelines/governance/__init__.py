"""Governance (governance.md): retention and the purge of what must no longer be kept."""
