"""Data-subject requests, across every list and every service: what is held on a person
(access), and the windows after which stored data is removed (retention)."""
