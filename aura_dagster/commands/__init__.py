"""Implementations of the `aura-dagster` sub-commands."""
