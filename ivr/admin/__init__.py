"""The supervisor console: pages on the shared web server (ivr/web), for role `supervisor`.

pages.py     SupervisorConsole: registers every area below on a WebConsole
changes.py   the change log (who changed what, when)
"""
