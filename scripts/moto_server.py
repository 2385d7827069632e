"""moto server for the tests, with one change: DynamoDB requests are served one at a time.

moto's server handles requests on threads, and its DynamoDB model checks a condition and then
writes without a lock, so two concurrent conditional writes to one item can both succeed. Real
DynamoDB serialises the writes to an item; the tests of conditional writes under concurrency
need that. SQS requests (long polls among them) stay concurrent.

    python scripts/moto_server.py PORT
"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
dynamodb = threading.Lock()


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return list(app(environ, start_response))
    return app(environ, start_response)


run_simple("127.0.0.1", port, serialised, threaded=True)
