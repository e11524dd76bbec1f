"""Processors: the contract, the catalog and the shipped implementations."""
