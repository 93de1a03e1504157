"""clearpixel: consent-aware email engagement platform.

Personal open tracking only with consent (CNIL deliberation 2026-042), anonymous or
deliverability-only pixels otherwise, a tamper-evident consent ledger, and reports that
separate human from machine opens.
"""

__version__ = "0.1.0"
