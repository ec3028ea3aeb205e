"""Engine settings: the memory limit and spill directory every DuckDB connection gets.

From asemic.yml's optional ``engine:`` section (``memory_limit``, ``temp_directory``);
``$ASEMIC_MEMORY_LIMIT`` overrides the limit (for a machine, without editing the config).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MEMORY_LIMIT = "4GB"


@dataclass(frozen=True)
class EngineSettings:
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: Path | None = None  # None: a directory under the system's temp dir

    def spill_directory(self) -> Path:
        """Where DuckDB spills (it creates the directory when it first spills)."""
        return self.temp_directory or Path(tempfile.gettempdir()) / "asemic-spill"

    def with_temp_directory(self, path: Path) -> EngineSettings:
        return EngineSettings(self.memory_limit, self.temp_directory or path)


def engine_settings(files=None, root: Path | None = None, model_dir: Path | None = None) -> EngineSettings:
    """The settings of a project (``files``: its loaded config); defaults without one.
    With ``model_dir`` (jobs), spilling goes to ``<model>/tmp`` unless the config says otherwise."""
    engine = files.deployment.model.engine if files is not None and files.deployment is not None else None
    limit = (engine.memory_limit if engine and engine.memory_limit else DEFAULT_MEMORY_LIMIT).replace(" ", "")
    limit = os.environ.get("ASEMIC_MEMORY_LIMIT") or limit
    temp = None
    if engine and engine.temp_directory:
        temp = Path(engine.temp_directory)
        if not temp.is_absolute() and root is not None:
            temp = root / temp
    elif model_dir is not None:
        temp = model_dir / "tmp"
    return EngineSettings(limit, temp)
