"""Dagster resources: configured once, in definitions.py, from the environment."""
