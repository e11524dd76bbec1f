"""AURA underwriting processing engine on Dagster."""
