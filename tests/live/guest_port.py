"""The host's end of a test guest's second serial port (stdlib only).

After its ready marker the guest's /init answers one-line commands that arrive on
ttyS1 (procs, modules, hostname; tests/guests/README.md), each answer framed by
"@@VMI BEGIN cmd@@" and "@@VMI END cmd@@", "@@VMI ERROR cmd@@" for a command it
does not know. QEMU (or libvirt for it) puts a listening unix socket behind the port;
ask() connects, sends the command and returns the lines of the answer.
"""
import socket
import time

ASK_TIMEOUT = 60


class GuestPortError(Exception):
    """The port could not be reached, or the guest did not answer as it should."""


def ask(port, command, who="guest", timeout=ASK_TIMEOUT):
    """Sends one command to the guest's responder on the unix socket `port` and
    returns the lines of its answer. Anything before the answer's BEGIN marker (the
    tail of an answer nobody waited for) is skipped."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(port)
            sock.sendall(command.encode() + b"\n")
            return _answer(sock, command, who, timeout)
    except OSError as e:
        raise GuestPortError(f"{who}: {command!r}: responder port {port}: {e}") from e


def _answer(sock, command, who, timeout):
    begin, end, error = (f"@@VMI {kind} {command}@@" for kind in ("BEGIN", "END", "ERROR"))
    deadline = time.time() + timeout
    buffer, lines, inside = b"", [], False
    while True:
        while b"\n" not in buffer:
            sock.settimeout(max(0.1, deadline - time.time()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                chunk = None
            if not chunk:
                got = f"{len(lines)} lines" if inside else "no answer"
                raise GuestPortError(f"{who}: {command!r}: {got} within {timeout} s"
                                     if chunk is None else f"{who}: {command!r}: port closed")
            buffer += chunk
        raw, buffer = buffer.split(b"\n", 1)
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line == error:
            raise GuestPortError(f"{who}: the guest does not know {command!r}")
        if line == begin:
            inside, lines = True, []
        elif line == end and inside:
            return lines
        elif inside:
            lines.append(line)
