"""Fleetgate shared layer: one package per bounded context, plus ``core``."""
