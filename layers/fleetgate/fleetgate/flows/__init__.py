"""Flows: flow definitions and their trigger index, the JavaScript sandbox and the outbound senders (HTTP, MQTT)
that flow steps use. Ingest and step execution build on these."""
