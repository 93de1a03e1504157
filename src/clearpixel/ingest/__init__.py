"""Ingest service: turn tracking hits into events and counters after the consent check."""
