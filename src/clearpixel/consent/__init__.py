"""Consent service: `record_decision` is the one way `privacy_flags` change (DESIGN R10)."""

from clearpixel.consent.decisions import DecisionResult, record_decision, record_decisions

__all__ = ["DecisionResult", "record_decision", "record_decisions"]
