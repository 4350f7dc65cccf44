"""Pure rules: no I/O, no AWS, no providers."""
