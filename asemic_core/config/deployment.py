"""``asemic.yml``'s models: the warehouse, the model's directory and the engine that runs
the jobs (DuckDB, or Spark with its master, conf, table location and format)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from asemic_core.config.strict import StrictModel


class WarehouseConfig(StrictModel):
    type: Literal["duckdb", "parquet", "spark_catalog"] = Field(
        default="duckdb",
        description="duckdb: a DuckDB file; parquet: a directory holding one Parquet directory per event table "
                    "(table game.sessions in <path>/game/sessions/), read by DuckDB and by Spark alike; "
                    "spark_catalog: the event tables are tables of the Spark session's catalog (table_name "
                    "db.table), read by Spark only (engine.type: spark)")
    path: str | None = Field(default=None, min_length=1, validate_default=True,
                             description="DuckDB file or Parquet directory, relative to the project directory "
                                         "(a Spark engine may name a cluster path, e.g. s3://bucket/events); "
                                         "not used with spark_catalog")

    @field_validator("path")
    @classmethod
    def _path_when_needed(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("type") == "spark_catalog":
            if value is not None:
                raise ValueError("warehouse.path is not used with warehouse.type spark_catalog (the event tables "
                                 "are the catalog's): remove it")
        elif value is None:
            raise PydanticCustomError("missing", "Field required")  # reported as a missing field, at path
        return value


class ModelStorageConfig(StrictModel):
    path: str = Field(
        default=".asemic/model",
        min_length=1,
        description="Directory of the generated model (partitions, catalog, job log), relative to the project",
    )


SPARK_MASTER_PATTERN = r"^(local(\[(\d+|\*)\])?|spark://[A-Za-z0-9._-]+:\d{1,5}|sc://[A-Za-z0-9._-]+(:\d{1,5})?(/.*)?)$"


class EngineConfig(StrictModel):
    memory_limit: str | None = Field(
        default=None, pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$",
        description="Memory limit of every DuckDB connection (e.g. 4GB); beyond it the engine spills to disk. "
                    "Default 4GB, or $ASEMIC_MEMORY_LIMIT",
    )
    temp_directory: str | None = Field(
        default=None, min_length=1,
        description="Where DuckDB spills, relative to the project (default: <model path>/tmp)",
    )
    type: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="Which engine runs the model's jobs: duckdb (embedded, default) or spark")
    master: str | None = Field(
        default=None, json_schema_extra={"pattern": SPARK_MASTER_PATTERN},
        description="Spark only: local[N], local[*], spark://host:port (standalone) or sc://host:port "
                    "(Spark Connect). Default local[2]")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark only: extra Spark settings, e.g. spark.executor.memory: 4g")
    path: str | None = Field(
        default=None, min_length=1,
        description="Spark only: where Spark writes the model's tables, relative to the project or a URI "
                    "(hdfs://, s3a://, dbfs:/). Default <model path>/spark")
    format: Literal["parquet", "delta", "iceberg"] = Field(
        default="parquet", description="Spark only: table format of the model's tables; parquet is built into "
                                       "Spark, delta and iceberg need the cluster to provide them")

    @field_validator("master")
    @classmethod
    def _check_master(cls, value: str | None) -> str | None:
        if value is not None and not re.match(SPARK_MASTER_PATTERN, value):
            raise ValueError(f"engine.master {value!r} is not a Spark master: use local[N], local[*], "
                             "spark://host:port or sc://host:port")
        return value

    @model_validator(mode="after")
    def _spark_only(self) -> EngineConfig:
        if self.type != "spark":
            for name in ("master", "path"):
                if getattr(self, name) is not None:
                    raise ValueError(f"engine.{name} is a Spark setting: set engine.type: spark, or remove it")
            if self.conf:
                raise ValueError("engine.conf is a Spark setting: set engine.type: spark, or remove it")
        return self


class DeploymentConfig(StrictModel):
    """``asemic.yml``: where the warehouse is and where the generated model lives."""

    name: str | None = None
    warehouse: WarehouseConfig
    model: ModelStorageConfig = Field(default_factory=ModelStorageConfig)
    engine: EngineConfig | None = None

    @model_validator(mode="after")
    def _catalog_needs_spark(self) -> DeploymentConfig:
        if self.warehouse.type == "spark_catalog" and (self.engine is None or self.engine.type != "spark"):
            raise ValueError("warehouse.type spark_catalog needs engine.type: spark (only Spark reads the catalog's "
                             "tables)")
        return self
