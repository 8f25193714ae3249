"""A Postfix policy service limiting how much each authenticated account sends (R4.2b, R8.2b).

Standard library only: the ``ratelimit`` role copies this file to the mail host and runs it as a
small TCP server on 127.0.0.1 (Postfix policy delegation protocol, SMTPD_POLICY_README). Postfix
asks it from the submission service's ``smtpd_end_of_data_restrictions`` (one question per
message); it counts, per ``sasl_username``, the messages and recipients accepted in the last hour
and answers ``DUNNO`` below the limits and a temporary refusal (450 4.7.1) above them. Each refusal
is logged with the account, so ``govmail abuse scan`` and the operator see it; locking the account
is the operator's decision (``govmail lock``). Counts live in memory: a restart forgets them.

    python3 ratelimit.py --listen 127.0.0.1:10031 --max-messages 100 --max-recipients 500 --window 3600
"""

from __future__ import annotations

import argparse
import os
import socket
import socketserver
import sys
import threading
import time
from collections import defaultdict, deque


class Limiter:
    """Sliding-window counters of messages and recipients per account."""

    def __init__(self, max_messages: int, max_recipients: int, window: float = 3600, clock=time.monotonic):
        self.max_messages, self.max_recipients, self.window, self.clock = max_messages, max_recipients, window, clock
        self.sent: dict[str, deque] = defaultdict(deque)  # account → (time, recipients) of accepted messages
        self.lock = threading.Lock()

    def check(self, account: str, recipients: int) -> tuple[bool, int, int]:
        """(allowed, messages, recipients) in the window, counting this message when it is allowed."""
        with self.lock:
            now, events = self.clock(), self.sent[account]
            while events and events[0][0] <= now - self.window:
                events.popleft()
            messages = len(events)
            rcpts = sum(n for _, n in events)
            if messages + 1 > self.max_messages or rcpts + recipients > self.max_recipients:
                return False, messages, rcpts
            events.append((now, recipients))
            return True, messages + 1, rcpts + recipients


def answer(limiter: Limiter, request: dict[str, str], log=print) -> str:
    """The action for one policy request."""
    account = request.get("sasl_username", "").strip().lower()
    if not account or request.get("request") != "smtpd_access_policy":
        return "DUNNO"
    try:
        recipients = max(int(request.get("recipient_count") or 1), 1)
    except ValueError:
        recipients = 1
    allowed, messages, rcpts = limiter.check(account, recipients)
    if allowed:
        return "DUNNO"
    log(
        f"govmail-ratelimit: over limit sasl_username={account} messages={messages} recipients={rcpts} "
        f"window={int(limiter.window)}s client={request.get('client_address', '?')}"
    )
    return (
        f"450 4.7.1 Sending limit reached ({limiter.max_messages} messages or {limiter.max_recipients} recipients "
        f"per hour); try later or contact hotrothudientu"
    )


def serve(limiter: Limiter, host: str, port: int, log=None) -> socketserver.ThreadingTCPServer:
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            request: dict[str, str] = {}
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    name, _, value = line.partition("=")
                    request[name] = value
                    continue
                action = answer(limiter, request, log=log)
                self.wfile.write(f"action={action}\n\n".encode())
                self.wfile.flush()
                request = {}

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    return Server((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Postfix policy service: sending limits per SASL account")
    p.add_argument("--listen", default="127.0.0.1:10031")
    p.add_argument("--max-messages", type=int, default=100)
    p.add_argument("--max-recipients", type=int, default=500)
    p.add_argument("--window", type=int, default=3600, help="seconds")
    p.add_argument("--log-file", help="append refusals here (with a time stamp) instead of standard error")
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    log = None
    if args.log_file:
        handle = open(args.log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 — open while serving

        def log(text: str) -> None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            handle.write(f"{stamp} {socket.gethostname()} govmail-ratelimit[{os.getpid()}]: {text.split(': ', 1)[1]}\n")

    server = serve(Limiter(args.max_messages, args.max_recipients, args.window), host, int(port), log)
    print(f"govmail-ratelimit: listening on {args.listen}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
