"""Administration: users and staff roles."""
