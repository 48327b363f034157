"""Domain errors. Services raise these; the API layer turns each into one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors a caller can act on; ``str(error)`` is safe to show them."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class Forbidden(DomainError):
    """The caller is known but their role does not allow this."""


class InvalidInput(DomainError):
    """Input that passed the schema but breaks a rule; ``errors`` maps field to messages."""

    def __init__(self, errors: dict[str, list[str]], *, location: str = "json") -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors
        self.location = location  # where the fields were: "json" (the body) or "query"


class Unavailable(DomainError):
    """A dependency (database, model) is not ready; the caller should retry later."""
