"""The DuckDB corpus: schema (schema.sql) and all SQL."""
