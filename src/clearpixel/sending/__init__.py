"""Sending service: compile a campaign once, render per recipient, build MIME, deliver."""
