"""Partner companies, their teams, invitations, the partner portal and partner plans."""
