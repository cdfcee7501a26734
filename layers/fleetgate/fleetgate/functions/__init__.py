"""User JavaScript functions: CRUD, versions, test runs (executed by fleetgate.functions.sandbox)."""
