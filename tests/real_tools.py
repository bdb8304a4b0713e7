"""Real command-line tools the tests check Kura against, each installed by ``make test`` in its own environment."""

import os
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent


def installed_tool(variable: str, default: Path, make_target: str) -> Path:
    """The tool ``make test`` names in ``variable`` (missing there is a failure), else the one ``make
    <make_target>`` installs at ``default`` (missing there skips: a developer running one test file)."""
    named = os.environ.get(variable, "")
    tool = Path(named) if named else default
    if not os.access(tool, os.X_OK):
        message = f"no tool at {tool}: `make {make_target}` installs it in its own virtual environment"
        if named:
            pytest.fail(message)
        pytest.skip(message)
    return tool


def mlcroissant_executable() -> Path:
    return installed_tool(
        "KURA_TEST_MLCROISSANT", PROJECT_DIR / ".venv" / "croissant-tool" / "bin" / "mlcroissant", "croissant-tool"
    )
