"""Identity: users, their roles and password credentials (device-manager Authentication)."""
