"""The house's layering (README, "Architecture"): the import contracts hold, no module imports itself back
through others, and the home's layout has one owner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

PROJECT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the packages under ``root``, with the project's contracts (.importlinter)."""
    return subprocess.run([LINT_IMPORTS, "--config", str(PROJECT / ".importlinter"), "--no-cache"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    run = lint_imports(PROJECT)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 broken" in run.stdout


def test_a_core_module_that_imports_a_capability_breaks_the_contracts(tmp_path):
    for package in ("pipelines", "schemas", "seeds"):
        shutil.copytree(PROJECT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "pipelines" / "core" / "config.py"
    config.write_text(config.read_text() + "\nfrom pipelines.ingest import extracts  # noqa\n")
    run = lint_imports(tmp_path)
    assert run.returncode == 1
    assert "pipelines.core is not allowed to import pipelines.ingest" in run.stdout
    assert "pipelines.core.config -> pipelines.ingest.extracts" in run.stdout


def circles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_module_imports_itself_back_through_others():
    """Every import counts, those inside functions too (grimp reads them all)."""
    graph = grimp.build_graph("pipelines", "schemas", "seeds", cache_dir=None)
    assert len(graph.modules) > 80
    assert circles(graph) == []
    graph.add_import(importer="pipelines.core.config", imported="pipelines.nightly")  # the walk finds one
    assert any("pipelines.core.config" in c and "pipelines.nightly" in c for c in circles(graph))


def test_only_the_homes_layout_joins_folder_names_under_home():
    # HOME itself, or a folder the layout gave (Home(home).reports_root, home.layout.exports_root), then a name
    join = re.compile(r"""\b(home|root|HOME|home_dir)\)?\s*/\s*["'f]|\b(Home\([^()]*\)|layout)\.\w+\s*/\s*["'f]""")
    offenders = [f"{path.relative_to(PROJECT)}:{number}: {line.strip()}"
                 for path in sorted((PROJECT / "pipelines").rglob("*.py")) if path.name != "home.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if join.search(line) and not line.lstrip().startswith("#")]
    assert offenders == []


def test_the_code_location_loads_as_the_webserver_and_the_daemon_load_it(tmp_path):
    """workspace.yaml's module, loaded by Dagster's own loader (one Definitions object at its scope)."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster"), "MIMAMORI_HOME": str(tmp_path / "home"),
           "MIMAMORI_LANDING": str(tmp_path / "landing"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    (tmp_path / ".dagster").mkdir()
    run = subprocess.run([str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w",
                          str(PROJECT / "workspace.yaml")], cwd=PROJECT, env=env, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "All code locations passed validation" in run.stdout + run.stderr
