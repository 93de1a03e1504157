"""Deliverability: the installation-wide suppression list, bounces and complaints from every
source as one normalised event, the VERP return path, and signed outgoing webhooks.

The send path calls in at four narrow points (`envelope.py`): which recipients are
suppressed, the envelope sender and extra headers of a message, and what a failed SMTP
delivery means for its recipient.
"""
