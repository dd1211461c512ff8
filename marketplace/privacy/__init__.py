"""Privacy (GDPR / RGPD): legal pages, consents, data export, account deletion and retention.

``models`` holds the legal pages admins edit and the append-only history of consents;
``services`` the state changes (page edits, consents, deletion requests, anonymisation);
``export`` builds the "download my data" zip; ``tasks`` registers the due task that
anonymises accounts whose 7-day grace period is over.
"""
