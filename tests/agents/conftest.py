from tests.backends import backend, config_file, stores  # noqa: F401  (fixtures)
