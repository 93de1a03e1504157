"""The root of every error a user can cause and fix; the interfaces map it to a clear message
(CLI: exit code 2, HTTP: a 4xx body) instead of a stack trace."""


class ClearpixelError(Exception):
    """Bad input or a state that forbids the operation; the message names the problem."""


class NotFound(ClearpixelError, LookupError):
    """The named thing does not exist."""
