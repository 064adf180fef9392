"""The package's layers only point down, and the workflow parses without a plotting library.

The layer contract is written once, in ``pyproject.toml`` (``[tool.importlinter]``), and
checked by import-linter's ``lint-imports``; README's "What is here" lists the layers in
the same order. Parsing the workflow (``snakemake -n``) must not import matplotlib or
seaborn: the figure registry, captions and study are plain Python.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import HANG_GUARD_S, REPO, snakemake_command


def lint_imports_command() -> list[str]:
    """``lint-imports`` of the environment running the tests."""
    script = Path(sys.executable).with_name("lint-imports")
    return [str(script)] if script.exists() else [shutil.which("lint-imports") or "lint-imports"]


def test_every_layer_contract_is_kept():
    result = subprocess.run(lint_imports_command(), cwd=REPO, capture_output=True, text=True,
                            timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_readme_lists_the_layers_in_dependency_order():
    """README's "What is here" names every module of the contract, lowest layer first."""
    import tomllib

    layers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"][0]["layers"]                 # import-linter: top layer first
    readme = (REPO / "README.md").read_text()
    section = readme.split("## What is here", 1)[1].split("\n## ", 1)[0]
    listed = []
    for depth, layer in enumerate(layers):
        for module in (name.strip().removeprefix("balanced_stdp.") for name in layer.split("|")):
            entry = next((e for e in (f" {module}.py", f" {module}/") if e in section), None)
            assert entry, f"README 'What is here' lacks {module}"
            listed.append((section.index(entry), depth, module))
    depths = [depth for _, depth, _ in sorted(listed)]
    assert depths == sorted(depths, reverse=True), (
        "README lists the layers in another order than pyproject.toml: "
        + ", ".join(module for *_, module in sorted(listed)))


def test_parsing_the_workflow_imports_no_plotting_library(tmp_path, workflow_env):
    command = snakemake_command(tmp_path, "-n", "--quiet")
    command.insert(1, "-X")
    command.insert(2, "importtime")
    result = subprocess.run(command, capture_output=True, text=True, env=workflow_env,
                            timeout=HANG_GUARD_S, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "snakemake" in imported and "balanced_stdp" in imported
    assert not imported & {"matplotlib", "seaborn"}, sorted(imported & {"matplotlib",
                                                                        "seaborn"})
