"""The Dagster layer: resources, partitions, assets, checks, jobs, schedules and sensors.

Only this package (and `definitions.py`) imports Dagster.
"""
