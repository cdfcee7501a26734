"""Cross-cutting pieces every context uses: settings, errors, auth, the resolver factory."""
