"""Reference data the whole network shares: schools and offer categories."""
