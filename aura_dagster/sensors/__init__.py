"""Sensors: the Pub/Sub sensor that turns underwriting.created into runs."""

from aura_dagster.sensors.underwriting_created import (
    SENSOR_NAME,
    underwriting_created_sensor,
)

__all__ = ["SENSOR_NAME", "underwriting_created_sensor"]
