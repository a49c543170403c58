"""The pure core stays pure: importing it (or running `docmill clean`) loads neither
Prefect nor DuckDB."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, SAMPLES

CORE = ["tasks", "tasks.records", "tasks.normalize", "tasks.boilerplate", "tasks.dedup",
        "tasks.language", "tasks.reading", "tasks.pipeline", "tasks.quality", "tasks.pii"]


def test_core_imports_neither_prefect_nor_duckdb():
    probe = (
        f"import sys; import {', '.join(CORE)}; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'duckdb')); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docmill_clean_imports_neither_prefect_nor_duckdb():
    probe = (
        "import sys; from flows.cli import main; "
        f"code = main(['clean', '--json', {str(SAMPLES / '000_747d8f32a30fbfc0.txt')!r}]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'duckdb')); "
        "print(heavy, file=sys.stderr); sys.exit(1 if heavy or code else 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
