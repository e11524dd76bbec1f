"""Application services: domain + storage, no Dagster. The ops call these and stay thin."""
