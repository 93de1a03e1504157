"""Who may act: admin users with roles and their sessions (`sessions`, `users`), REST API
keys (`api_keys`), what each role may do (`roles`), and the one CSRF system every form of
the installation uses, public or admin (`csrf`)."""
