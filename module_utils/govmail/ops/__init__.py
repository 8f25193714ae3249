"""Operating the running service (R9.2): end-to-end health checks (``status``), the backups and restore
drills as their status files record them (``backups``), outage notices to users (``outage``).
Imports model, mailhost and directory."""
