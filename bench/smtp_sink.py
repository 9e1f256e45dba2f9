"""A local SMTP sink for the digest benchmark: accepts everything, keeps only a count.

python bench/smtp_sink.py PORT     (prints "ready" once listening; on SIGTERM prints the count)
"""

from __future__ import annotations

import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self):
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 OK"


def main() -> None:
    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()
    print(f"{handler.count} {handler.bytes}", flush=True)


if __name__ == "__main__":
    main()
