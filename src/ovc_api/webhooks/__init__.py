"""Webhooks: organisations subscribe HTTPS endpoints to events, delivered from the outbox."""
