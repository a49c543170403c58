"""Prefect flows and the docmill command line: orchestration only."""
