"""A long-running background process for the `worker` and `beat` roles.

A real app would run Celery here; Celery is not on the Debian base image (and the lab has no
broker), so this stands in: it logs a heartbeat every few seconds, touches the database like a
worker would, and exits 0 promptly on SIGTERM/SIGINT so `docker stop` and rolling restarts are clean.
"""
import logging
import os
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection

from notes.models import Note

log = logging.getLogger("notes.worker")


class Command(BaseCommand):
    help = "Run the example background loop (role worker or beat) until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--role", choices=["worker", "beat"], default="worker")
        parser.add_argument(
            "--interval",
            type=float,
            default=float(os.environ.get("WORKER_INTERVAL", "5")),
            help="seconds between heartbeats (env WORKER_INTERVAL)",
        )
        parser.add_argument("--max-beats", type=int, default=0, help="stop after N heartbeats (0: never)")

    def handle(self, *args, role, interval, max_beats, **options):
        stop = threading.Event()

        def on_signal(signum, _frame):
            log.info("%s: got %s, finishing", role, signal.Signals(signum).name)
            stop.set()

        # Explicit handlers: correct under tini and also when this process runs as PID 1 itself.
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            log.info("%s: started (pid %d, every %.1fs)", role, os.getpid(), interval)
            beats = 0
            while not stop.is_set():
                beats += 1
                log.info("%s: heartbeat %d (notes: %s)", role, beats, self.count_notes())
                if max_beats and beats >= max_beats:
                    break
                stop.wait(interval)
            log.info("%s: stopped after %d heartbeats", role, beats)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def count_notes(self):
        # Like a request cycle: drop a connection the database closed since the last beat
        # (never inside a transaction, e.g. when the test suite calls this command).
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            return Note.objects.count()
        except DatabaseError as e:
            # A worker rides out a database blip instead of crash-looping.
            return f"database unavailable: {str(e).strip().splitlines()[0] if str(e).strip() else e}"
