"""Example objectives used by the files in configs/ (importable by every worker)."""
