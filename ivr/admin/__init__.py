"""Supervisor console."""
