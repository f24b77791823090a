"""SIP (RFC 3261): sans-I/O parser, transactions, dialogs and user agent; Twisted transport."""
