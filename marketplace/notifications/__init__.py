"""E-mail: every message goes through the outbox table, then to a folder or SMTP."""
