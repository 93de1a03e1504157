"""Commands of this group are added here as they are built."""
