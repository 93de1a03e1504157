"""Pure types and rules of clearpixel: no I/O, no imports from the rest of the project."""
