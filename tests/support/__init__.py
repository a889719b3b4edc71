"""Data makers and workers shared by the tests (importable because pytest puts tests/ on the path)."""
