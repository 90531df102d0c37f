"""A QMP proxy for tests: a unix socket that passes QMP traffic on to a real
QEMU's QMP socket, except the commands it is told to mishandle (stdlib only).

    with QmpProxy(real_socket, path, hang={"stop"}) as proxy:  # never answers stop
        ... run a tool with --qmp path --access monitor ...
        proxy.hang = {"cont"}                                 # change the mischief
        proxy.fail = {"cont"}                                 # answer cont with an error

A command in `hang` is swallowed: neither passed on nor answered, as a monitor
that stops answering. A command in `fail` is answered with a QMP error without
reaching QEMU. Everything else, and QEMU's answers and events, pass through.
Each client gets its own connection to QEMU, closed when the client goes, so
the real socket (QEMU serves one client at a time) is free between runs.

The client's peer pid is this process, not QEMU: use --access monitor (or, for
a Proxmox VM, its .pid file names QEMU).

`events` records, in order, ("open", n) when client connection n arrives,
("command", n, name) for each command it sends and ("close", n) when it goes.
"""
import json
import os
import socket
import threading
import time


class QmpProxy:
    def __init__(self, upstream, path, hang=(), fail=()):
        self.upstream = upstream
        self.path = path
        self.hang = set(hang)
        self.fail = set(fail)
        self.seen = []  # commands clients sent, in order
        self.events = []  # ("open", n), ("command", n, name), ("close", n)
        self.times = []  # time.monotonic() of each event
        self.lock = threading.Lock()
        self.count = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _log(self, *event):
        with self.lock:
            self.events.append(event)
            self.times.append(time.monotonic())

    def _serve(self, client):
        with self.lock:
            self.count += 1
            number = self.count
        self._log("open", number)
        qemu = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            qemu.connect(self.upstream)
        except OSError:
            client.close()
            self._log("close", number)
            return
        threading.Thread(target=self._pass, args=(qemu, client), daemon=True).start()
        buffer = b""
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._request(line, client, qemu, number)
        except OSError:
            pass
        finally:
            for s in (client, qemu):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._log("close", number)

    def _request(self, line, client, qemu, number):
        try:
            request = json.loads(line)
        except ValueError:
            request = {}
        name = request.get("execute")
        self.seen.append(name)
        logged = name
        if name == "human-monitor-command":   # "hmp info mtree", "hmp gpa2hva 0x0"
            logged = "hmp " + " ".join(str(request.get("arguments", {}).get("command-line", "")).split()[:2])
        self._log("command", number, logged)
        if name in self.hang:
            return
        if name in self.fail:
            answer = {"error": {"class": "GenericError", "desc": f"{name} refused by the test proxy"}}
            if "id" in request:
                answer["id"] = request["id"]
            client.sendall(json.dumps(answer).encode() + b"\n")
            return
        qemu.sendall(line + b"\n")

    @staticmethod
    def _pass(source, sink):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
