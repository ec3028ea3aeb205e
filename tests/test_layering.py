"""The layering is a contract: the studio above the engine, the facade above the core
nouns, no import circles, and an engine that imports no UI.

The contracts are written in ``.importlinter`` and checked by import-linter over the
whole import graph (imports inside functions included). Pages are scripts, not a
package, so their imports are checked here by reading them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What a page may not reach past the facade and the studio: the engine's inner layers.
PAGE_FORBIDDEN = ("asemic_core.sql", "asemic_core.storage", "asemic_core.semantic", "asemic_core.validation",
                  "asemic_core.engine")


def test_import_contracts_are_kept() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         str(REPO / ".importlinter"), "--no-cache"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "Contracts: 4 kept, 0 broken." in report, report


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_pages_stay_above_the_facade() -> None:
    pages = sorted((REPO / "pages").glob("*.py")) + [REPO / "app.py"]
    assert len(pages) >= 9
    wrong = [
        f"{page.relative_to(REPO)}:{line} imports {name}"
        for page in pages
        for line, name in _imports(page)
        if name == "pages" or name.startswith("pages.")
        or any(name == f or name.startswith(f + ".") for f in PAGE_FORBIDDEN)
    ]
    assert wrong == []
