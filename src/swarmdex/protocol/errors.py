"""Errors raised while reading tracker requests."""


class ProtocolError(Exception):
    """A request could not be understood or is not allowed.

    `message` is always safe to send to the peer: it names the client's mistake and never
    carries internal detail. `replyable` is False when there is nobody to answer (a UDP
    packet too short to hold a transaction id): such requests are dropped and counted.
    """

    def __init__(self, message: str, *, replyable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.replyable = replyable
