"""Mobivisor proxy: device list, details and deletion forwarded to Dealdio's Mobivisor API."""
