"""Business logic in plain Python: no Dagster import below this package."""
