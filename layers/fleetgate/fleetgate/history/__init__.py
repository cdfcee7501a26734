"""Execution history of functions, integrations and flows (device uplink history lives with the devices)."""
