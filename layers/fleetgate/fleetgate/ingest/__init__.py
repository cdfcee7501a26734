"""Ingest: uplinks and other device events from ChirpStack (v4 and v3 JSON) and Helium, authenticated by per-user
X-API-Key keys; device presence (last seen, online/offline)."""
