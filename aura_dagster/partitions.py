"""One dynamic partition per underwriting: the sensor adds keys, every asset shares them."""

from dagster import DynamicPartitionsDefinition

underwriting_partitions = DynamicPartitionsDefinition(name="underwriting")
