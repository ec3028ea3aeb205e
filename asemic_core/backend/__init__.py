"""The engine seam: the executor (runs SQL, fetches frames) and the table store (writes,
replaces and reads versioned tables). The planner, the jobs and the KPI queries talk to
these two interfaces only; DuckDB + Delta Lake is the first implementation."""
