"""Audience service: lists and contacts, CSV import and export."""
