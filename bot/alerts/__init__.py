"""Alerts: pure formatting, the outbox sender job, chat commands."""
