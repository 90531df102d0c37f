#!/usr/bin/env python3
"""Minimal QMP client (stdlib only) for the test-guest builder.

Usage: qmp.py [--timeout SECONDS] SOCKET COMMAND [JSON-ARGUMENTS]

Connects to a QEMU monitor socket opened with `-qmp unix:SOCKET,server=on,wait=off`,
reads the greeting, negotiates capabilities, sends one command and prints its
`return` value: a string as-is (e.g. human-monitor-command output), anything else as
JSON. Asynchronous events (STOP, RESUME, DUMP_COMPLETED, ...) are skipped. Exits 1
with the QMP error on stderr when QEMU answers with `error`, 2 on usage or
connection problems. Every read is bounded by --timeout (default 300 s: a 512 MiB
dump-guest-memory under TCG takes a few seconds, far less than that).

`quit` is special: QEMU may close the socket before or right after answering, so
end-of-file after sending it counts as success.
"""

import json
import socket
import sys


class QmpError(Exception):
    pass


class QmpConnection:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def _read_message(self):
        """Return the next JSON object from the socket, or None on end-of-file."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self._read_message()
        return json.loads(line)

    def _read_reply(self, allow_eof=False):
        """Skip events until a reply (`return` or `error`) arrives."""
        while True:
            msg = self._read_message()
            if msg is None:
                if allow_eof:
                    return None
                raise QmpError("QEMU closed the monitor connection without replying")
            if "event" in msg:
                continue
            if "error" in msg:
                err = msg["error"]
                raise QmpError("%s: %s" % (err.get("class", "Error"), err.get("desc", err)))
            if "return" in msg:
                return msg["return"]

    def handshake(self):
        greeting = self._read_message()
        if greeting is None or "QMP" not in greeting:
            raise QmpError("no QMP greeting from QEMU (got %r)" % (greeting,))
        self.execute("qmp_capabilities")

    def execute(self, command, arguments=None):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        return self._read_reply(allow_eof=(command == "quit"))


def main(argv):
    args = argv[1:]
    timeout = 300.0
    if len(args) >= 2 and args[0] == "--timeout":
        timeout = float(args[1])
        args = args[2:]
    if len(args) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, command = args[0], args[1]
    try:
        arguments = json.loads(args[2]) if len(args) == 3 else None
    except json.JSONDecodeError as e:
        print("qmp.py: bad JSON arguments: %s" % e, file=sys.stderr)
        return 2
    try:
        conn = QmpConnection(path, timeout)
        conn.handshake()
        result = conn.execute(command, arguments)
    except QmpError as e:
        print("qmp.py: %s: %s" % (command, e), file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:  # socket.timeout is an OSError
        print("qmp.py: %s: %s" % (command, e), file=sys.stderr)
        return 2
    if isinstance(result, str):
        sys.stdout.write(result)
    elif result is not None and result != {}:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
