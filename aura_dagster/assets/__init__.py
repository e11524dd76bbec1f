"""The underwriting assets, their checks and jobs."""
