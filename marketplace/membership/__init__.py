"""Membership (adhésion): tiers and, later, dated periods paid through Stripe."""
