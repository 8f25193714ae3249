"""Services beside the mail host: SMTP sending, the mail log, the sending limit, mailbox archives.
Imports only the standard library; used by the directory, lifecycle and CLI layers."""
