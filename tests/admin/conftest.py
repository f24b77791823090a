from tests.backends import backend, stores  # noqa: F401  (fixtures)
