"""The docs' ``skewless`` commands run in the page runner's process, which has imported
TensorFlow once, instead of in a fresh interpreter each (whose TensorFlow import takes
seconds; the docs run about fifty commands).

``python -m docs_commands ARGS…`` (what ``bin/skewless`` runs) sends its arguments, folder
and environment, and its standard input, output and error themselves (file descriptors
passed over a Unix socket, SCM_RIGHTS), to the ``CommandServer`` of the page runner, and
exits with the command's exit status. The server runs ``skewless.cli.main(ARGS)`` with
those file descriptors as its 0, 1 and 2, in that folder and environment, one command at a
time: what the command prints, from Python or from TensorFlow's C++, goes where the
command's own would. Without a server (``DOCS_COMMAND_SOCKET`` unset) the command runs in a
fresh interpreter, as ``python -m skewless ARGS…``."""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import traceback

SOCKET_VARIABLE = "DOCS_COMMAND_SOCKET"


class CommandServer:
    """Serves the commands of ``python -m docs_commands`` on a Unix socket named in
    ``os.environ[SOCKET_VARIABLE]`` (so that the page's subprocesses find it) until
    ``close``."""

    def __init__(self):
        self._folder = tempfile.mkdtemp(prefix="docs-")  # short: a socket path has ≤ 107 bytes
        self.path = os.path.join(self._folder, "commands.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(self.path)
        self._socket.listen()
        os.environ[SOCKET_VARIABLE] = self.path
        threading.Thread(target=self._serve, daemon=True, name="docs-commands").start()

    def close(self) -> None:
        os.environ.pop(SOCKET_VARIABLE, None)
        self._socket.close()
        os.unlink(self.path)
        os.rmdir(self._folder)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            with connection:
                _, fds, _, _ = socket.recv_fds(connection, 1, 3)
                message = b""
                while chunk := connection.recv(65536):
                    message += chunk
                try:
                    status = _run(json.loads(message), fds)
                finally:
                    for fd in fds:
                        os.close(fd)
                connection.sendall(str(status).encode())


def _run(request: dict, fds: list) -> int:
    """``skewless.cli.main(request["argv"])``'s exit status, run with ``fds`` as its standard
    input, output and error, in ``request["cwd"]`` with ``request["env"]``."""
    from skewless import cli

    saved_fds = [os.dup(number) for number in (0, 1, 2)]
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        for number, fd in enumerate(fds):
            os.dup2(fd, number)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        try:
            status = cli.main(request["argv"])
        except SystemExit as exit_:  # argparse's usage errors, as the interpreter shows them
            if exit_.code is None or isinstance(exit_.code, int):
                status = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
                status = 1
        except BaseException:  # noqa: BLE001 - a traceback, as the interpreter shows it
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
        return status
    finally:
        for number, fd in enumerate(saved_fds):
            os.dup2(fd, number)
            os.close(fd)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def main(argv: list) -> int:
    path = os.environ.get(SOCKET_VARIABLE)
    if not path:
        os.execv(sys.executable, [sys.executable, "-m", "skewless", *argv])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(path)
        socket.send_fds(connection, [b"\0"], [0, 1, 2])
        connection.sendall(json.dumps({"argv": argv, "cwd": os.getcwd(),
                                       "env": dict(os.environ)}).encode())
        connection.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := connection.recv(64):
            reply += chunk
    return int(reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
