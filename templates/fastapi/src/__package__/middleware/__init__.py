"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers bodies and breaks streaming)."""
