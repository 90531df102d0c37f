"""A second client of a VM's socket, as Proxmox's pvedaemon and pvestatd are: it
runs one exchange every 100 ms (a fresh connection each time) until stopped, and
records how long each one took and how each failure read.

    poller = Poller(lambda: guest.qmp("query-status"))
    poller.start()
    ... run a tool ...
    poller.stop()
    poller.waits, poller.failures
"""
import threading
import time


class Poller(threading.Thread):
    def __init__(self, exchange, period=0.1):
        super().__init__(daemon=True)
        self.exchange, self.period = exchange, period
        self.waits, self.failures = [], []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            start = time.monotonic()
            try:
                self.exchange()
                self.waits.append(time.monotonic() - start)
            except Exception as e:  # noqa: BLE001 - any failure of the exchange is one to report
                self.failures.append(f"{type(e).__name__}: {e}")
            self.done.wait(self.period)

    def stop(self):
        self.done.set()
        self.join(60)

    def summary(self):
        """'N answered, longest X s, median Y s'."""
        waits = sorted(self.waits)
        if not waits:
            return "none answered"
        return f"{len(waits)} answered, longest {waits[-1]:.3f} s, median {waits[len(waits) // 2]:.3f} s"
