"""Storage: SQLAlchemy models and migrations, Redis shared state."""
