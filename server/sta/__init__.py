"""The SensorThings API 1.1 surface (``/sta/v1.1``); docs/sensors.md."""
