"""Flows: flow definitions, their validation and the trigger index that ingest and offline detection start runs
from."""
