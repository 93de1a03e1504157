"""The root of every error a user can cause and fix; the interfaces map it to a clear message
(CLI: exit code 2, HTTP: a 4xx body) instead of a stack trace.

A message people read in the admin is a catalogue text marked with `N_` whose values are
passed by name (`%(name)s`): `str(error)` is the English text (CLI, API, logs) and the admin
shows the same text in the reader's language (`web/admin_base.said`)."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name extractors look for
    """Mark a text for the catalogue (`clearpixel/locale`); it is translated where shown."""
    return message


class Message:
    """A catalogue text with its values, used as a value of another message (a rule quoted
    by several refusals): English when formatted, translated with the message it is in."""

    __slots__ = ("template", "values")

    def __init__(self, template: str, /, **values: object) -> None:
        self.template = template
        self.values = values

    def __str__(self) -> str:
        return self.template % self.values if self.values else self.template

    @staticmethod
    def joined(parts: list[Message], how: str = "") -> Message:
        """Several messages as one, "a and b and c" (or, with `how` =
        `N_("%(before)s; %(after)s")`, "a; b; c"), each translated where shown."""
        out = parts[0]
        for part in parts[1:]:
            out = Message(how or N_("%(before)s and %(after)s"), before=out, after=part)
        return out


class ClearpixelError(Exception):
    """Bad input or a state that forbids the operation; the message names the problem.
    `template` is the message as written (a catalogue text when marked `N_`), `values` the
    `%(name)s` values it is filled with (each a plain value or a `Message`)."""

    def __init__(self, message: str = "", /, **values: object) -> None:
        self.template = message
        self.values = values
        super().__init__(message % values if values else message)

    def as_message(self) -> Message:
        """This refusal as a value of another message (a line's reason in an import)."""
        return Message(self.template, **self.values)


class NotFound(ClearpixelError, LookupError):
    """The named thing does not exist."""
