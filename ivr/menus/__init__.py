"""Menu trees as data: schema, validation and the per-call interpreter."""
