"""moto server for the tests, with two changes that make it behave like AWS under concurrency.

moto's server handles requests on threads, without the locks AWS has:
- Its DynamoDB model checks a condition and then writes without a lock, so two concurrent
  conditional writes to one item can both succeed. Real DynamoDB serialises the writes to an
  item; the tests of conditional writes under concurrency need that. DynamoDB requests are
  served one at a time.
- Its SQS ReceiveMessage picks visible messages and marks them received without a lock, so two
  concurrent receives can both get the same message (SQS never hands a message to a second
  consumer within its visibility timeout, and a FIFO group to one at a time). The picking is
  done under a lock, one non-waiting attempt at a time; a long poll repeats attempts until its
  wait is over, outside the lock, so sends and deletes are never held up by it.

    python scripts/moto_server.py PORT
"""
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import SQSBackend
from werkzeug.serving import run_simple

port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
dynamodb = threading.Lock()
receiving = threading.Lock()
_receive = SQSBackend.receive_message


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, *args, **kwargs):
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        with receiving:
            got = _receive(self, queue_name, count, 0, visibility_timeout, *args, **kwargs)
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.05)


SQSBackend.receive_message = receive_message


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return list(app(environ, start_response))
    return app(environ, start_response)


run_simple("127.0.0.1", port, serialised, threaded=True)
