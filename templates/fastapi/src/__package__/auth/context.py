"""What authenticating a request needs, gathered once per application.

Built in the lifespan (the database and the store open there) and read by `get_principal`
straight from the application, so authenticating costs no dependency resolution and opens no
database session unless the cache in `AuthState` misses.
"""

from dataclasses import dataclass

from ..audit import AuditLog
from ..core.authstate import AuthState
from ..core.config import Settings
from ..core.store import Store
from ..db import Database


@dataclass(frozen=True, slots=True)
class AuthContext:
    settings: Settings
    database: Database
    store: Store
    audit: AuditLog
    state: AuthState
