"""Placeholder."""

ROUTES: list = []
