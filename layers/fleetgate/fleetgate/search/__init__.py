"""Search over a user's devices, functions, flows and integrations, from a token index kept up to date at write time."""
