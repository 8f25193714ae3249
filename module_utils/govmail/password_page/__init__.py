"""The self-service password page (R6.1): a small WSGI application binding as the user.
Imports model only (the password rules), so it can be deployed with just those modules."""
