"""Reports service: campaign results and consent coverage, read from counters."""
