"""Thin ASGI layer: the tracking front door, consent pages, admin UI and REST API."""
