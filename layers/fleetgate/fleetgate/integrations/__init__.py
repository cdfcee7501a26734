"""HTTP and MQTT integrations: CRUD with masked secrets, and test sends (through fleetgate.integrations.outbound)."""
