"""Prepaid-utility estates: estates, units, persons, owners and tenants, meters, readings, tariffs, wallets, mobile
users (the mobile app API, the staff portal API and billing)."""
