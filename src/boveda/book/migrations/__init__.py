"""Alembic migrations of the book's schema (env.py runs them on the connection Bóveda hands it)."""
