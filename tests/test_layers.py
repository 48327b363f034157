"""The imports run one way (pyproject.toml's import-linter contracts): the classifier knows
nothing of the service, the domain core (``service.comments``) imports no capability, no
domain service imports Flask or an HTTP schema, view or page, and tenants and settings import
no capability."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_every_import_contract_is_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "4 kept" in result.stdout
