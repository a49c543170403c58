"""docmill's pure core: reading, normalising, boilerplate labelling, language, dedup.

Nothing in this package imports Prefect or DuckDB, except ``tasks.prefect_tasks``, the
thin Prefect wrappers around it, which only flows import.
"""
