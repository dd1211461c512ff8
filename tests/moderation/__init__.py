"""Tests of the moderation package."""
