"""The lifecycle clocks (R8): inactivity and suspension scans, lock, password-expiry reminders, notices.
Imports model, mailhost, directory and workflow."""
