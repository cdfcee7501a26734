"""Platform-wide concerns that belong to no single API family (the deployment's health check)."""
