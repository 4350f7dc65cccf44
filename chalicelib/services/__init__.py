"""Use cases. Services take ports as keyword-only arguments and import no AWS or provider code."""
