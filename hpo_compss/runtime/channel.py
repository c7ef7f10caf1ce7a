"""Messages between the driver and a local worker: pickled objects, length-prefixed, over a socket.

Small on purpose: a worker imports this instead of multiprocessing, which halves its start-up time.
"""
from __future__ import annotations

import pickle
import select
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!Q")


class Channel:
    def __init__(self, sock: socket.socket):
        self.socket = sock

    def fileno(self) -> int:
        return self.socket.fileno()

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.socket.sendall(_HEADER.pack(len(data)) + data)

    def recv(self) -> Any:
        """The next message; EOFError once the other end has closed (or died)."""
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
        return pickle.loads(self._exactly(size))

    def ready(self) -> bool:
        """Is a message (or the end of the channel) waiting to be read now?"""
        return bool(select.select([self.socket], [], [], 0)[0])

    def close(self) -> None:
        self.socket.close()

    def _exactly(self, size: int) -> bytes:
        chunks, missing = [], size
        while missing:
            chunk = self.socket.recv(min(missing, 1 << 20))
            if not chunk:
                raise EOFError("the other end closed the channel")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)
