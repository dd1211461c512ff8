"""People: users, alumni profiles, login, tokens and staff roles."""
