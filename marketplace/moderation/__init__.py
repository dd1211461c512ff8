"""Staff moderation queues: alumni verification and roster import (partners, offers, jobs later)."""
