"""The web consoles' shared foundation: one twisted.web server on the IVR's reactor.

server.py    WebConsole: Klein routes, login/logout, sessions, CSRF, role checks, templates,
             static files; sections (ivr/admin, ivr/agents) add pages with `console.page(...)`
settings.py  the `web:` section (host, port, session lifetime, metrics token)
services.py  WebServices: the narrow set of things the web layer may use (never ivr/app)
users_cli.py python -m ivr users add|passwd|disable|enable|list
"""
