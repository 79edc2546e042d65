"""The core's log lines reach Python's logging (logger "flagwire"), from flagwire's threads."""

import logging
import threading

import flagwire

from conftest import exposures


class Collecting(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []  # list.append is atomic; Handler.handle holds the handler's lock

    def emit(self, record):
        self.records.append(record)


def test_a_debug_line_carries_the_message_id_the_collector_received(collector, make_client):
    logger = logging.getLogger("flagwire")
    handler = Collecting()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)  # no log_level option: the logger's level sets it
    try:
        fw = make_client()
        info = {"flag_key": "checkout_flow", "rule_key": "checkout_ab", "variation_key": "treatment",
                "enabled": True, "experiment_id": "2001", "variation_id": "5002"}
        assert fw.listener("flag", "logged-user", {}, info) is flagwire.Status.OK
        assert fw.flush(10)
        (message,) = exposures(collector.messages())
        fw.close(5)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    sent = [r for r in handler.records if r.levelno == logging.DEBUG and message["messageId"] in r.getMessage()]
    assert sent, [r.getMessage() for r in handler.records]
    assert sent[0].name == "flagwire"
    assert sent[0].threadName != threading.current_thread().name  # the sender's thread


def test_a_logger_option_and_an_explicit_log_level(collector, make_client):
    logger = logging.getLogger("app.analytics")
    handler = Collecting()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        fw = make_client(logger=logger, log_level="error", endpoint="http://127.0.0.1:1", max_retries=0)
        fw.enqueue({"type": "track", "userId": "u", "event": "Nowhere"})
        fw.flush(10)
    finally:
        logger.removeHandler(handler)
    levels = {r.levelno for r in handler.records}
    assert levels == {logging.ERROR}  # log_level error: no debug lines, though the logger takes them
    assert any("failed" in r.getMessage() for r in handler.records)


def test_a_handler_that_raises_never_reaches_the_core(collector, make_client):
    class Raising(logging.Handler):
        def emit(self, record):
            raise RuntimeError("handler broke")

        def handleError(self, record):
            raise RuntimeError("and so did handleError")

    logger = logging.getLogger("flagwire.raising")
    logger.addHandler(Raising())
    logger.propagate = False
    fw = make_client(logger=logger, log_level="debug")
    for i in range(50):
        assert fw.enqueue({"type": "track", "userId": f"u{i}", "event": "E"})
    assert fw.flush(10)
    assert collector.wait(50) == 50
    assert fw.close(5) is True
