"""The request flow and its audit trail: requests, forms, scope, CODEOWNERS, records, history, SLA, report.
Imports model only (the git history is read, never the directory)."""
