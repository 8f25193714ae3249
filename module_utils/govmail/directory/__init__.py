"""The directory: the LDAP client and wire codec, layout, plan, bulk convergence, initial-password delivery, import.
Imports model and mailhost only."""
