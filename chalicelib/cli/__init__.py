"""Command-line entry points: the local stack and the admin commands. Not used by Lambda."""
