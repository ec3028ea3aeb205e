"""Engine settings: which engine runs the jobs (DuckDB, or Spark with its master, conf,
table location and format), and the memory limit and spill directory every DuckDB
connection gets.

From asemic.yml's optional ``engine:`` section; ``$ASEMIC_MEMORY_LIMIT`` overrides the
limit (for a machine, without editing the config).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_SPARK_MASTER = "local[2]"


@dataclass(frozen=True)
class SparkSettings:
    master: str = DEFAULT_SPARK_MASTER
    conf: tuple[tuple[str, str], ...] = ()
    tables_path: str = ""  # where the model's tables are written (a local path or a URI)
    table_format: str = "parquet"
    state_dir: Path | None = None  # the project's model directory: the table versions' manifests

    @property
    def remote(self) -> bool:
        return self.master.startswith("sc://")

    @property
    def local_tables(self) -> bool:
        """Whether DuckDB in this process can read the tables (Parquet files on a local
        path): then DuckDB serves KPI queries and previews (see docs/spark.md)."""
        return ("://" not in self.tables_path and not self.tables_path.startswith("dbfs:")
                and self.table_format == "parquet")


@dataclass(frozen=True)
class SparkCatalog:
    """Where the events are when ``warehouse.type`` is spark_catalog: the tables of the Spark
    session's catalog (``table_name: db.table``). It stands where a warehouse path goes;
    only Spark reads it (jobs, planning and queries run on Spark)."""

    settings: SparkSettings

    def is_file(self) -> bool:  # not a local DuckDB file or Parquet directory
        return False

    def is_dir(self) -> bool:
        return False

    def __str__(self) -> str:
        return "the Spark catalog"


@dataclass(frozen=True)
class EngineSettings:
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: Path | None = None  # None: a directory under the system's temp dir
    spark: SparkSettings | None = field(default=None)  # None: DuckDB runs the jobs

    @property
    def engine(self) -> str:
        return "spark" if self.spark is not None else "duckdb"

    def spill_directory(self) -> Path:
        """Where DuckDB spills (it creates the directory when it first spills)."""
        return self.temp_directory or Path(tempfile.gettempdir()) / "asemic-spill"

    def with_temp_directory(self, path: Path) -> EngineSettings:
        return replace(self, temp_directory=self.temp_directory or path)


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
    spark = None
    if engine is not None and engine.type == "spark":
        # The model directory as configured (``model_dir`` is not given to readers).
        model_path = Path(files.deployment.model.model.path)
        if not model_path.is_absolute() and root is not None:
            model_path = root / model_path
        tables = engine.path or str(model_path / "spark")
        if "://" not in tables and not tables.startswith("dbfs:") and not Path(tables).is_absolute() and root:
            tables = str(root / tables)
        conf = tuple(sorted((k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in engine.conf.items()))
        spark = SparkSettings(engine.master or DEFAULT_SPARK_MASTER, conf, tables, engine.format, model_path)
    return EngineSettings(limit, temp, spark)
