"""Storages: time-series destinations that flow storage nodes write to, and reading them back."""
