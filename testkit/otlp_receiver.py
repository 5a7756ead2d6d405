"""An OTLP/HTTP trace receiver for the tests, decoding with an independent decoder.

It accepts `POST /v1/traces` with an `application/x-protobuf` body, decodes it as an
`ExportTraceServiceRequest` with the `opentelemetry-proto` package from PyPI (Google's protobuf
runtime, none of the Rust code under test), and appends each span to a file as one JSON line:
hex ids, name, kind, attributes, status, and the resource's `service.name`. Every request is also
logged, one JSON line each, to a second file.

What it answers is set by `POST /control` with one word as the body:
- `accept`: 200 with an empty `ExportTraceServiceResponse` (the start).
- `unavailable`: 503, nothing decoded.
- `stall`: no answer at all until the mode changes (bounded by --stall-limit).
- `reject`: 200 with a partial success that rejects every span of the request.

Usage: otlp_receiver.py --spans FILE --requests FILE. It binds 127.0.0.1 on a port the kernel
picks and prints `listening 127.0.0.1:PORT` on stdout once ready. testkit/src/otlp.rs runs it.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MODES = ("accept", "unavailable", "stall", "reject")
MAX_BODY = 16 * 1024 * 1024


class State:
    """The mode, and the files written, shared by the handler threads."""

    def __init__(self, spans_path, requests_path, stall_limit):
        self.lock = threading.Lock()
        self.mode = "accept"
        self.changed = threading.Event()
        self.spans_path = spans_path
        self.requests_path = requests_path
        self.stall_limit = stall_limit

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
            # Wake stalled requests: they re-read the mode.
            self.changed.set()
            self.changed = threading.Event()

    def current(self):
        with self.lock:
            return self.mode, self.changed

    def append(self, path, lines):
        with self.lock:
            with open(path, "a", encoding="utf-8") as f:
                for line in lines:
                    f.write(json.dumps(line, sort_keys=True) + "\n")


def any_value(value):
    """An AnyValue as JSON: strings, ints, bools and doubles as themselves."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("string_value", "int_value", "bool_value", "double_value"):
        return getattr(value, kind)
    return {kind: str(getattr(value, kind))}


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def span_lines(request):
    """One JSON object per span of an ExportTraceServiceRequest."""
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state,
                    "flags": span.flags,
                    "name": span.name,
                    "kind": Span.SpanKind.Name(span.kind),
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "dropped_attributes_count": span.dropped_attributes_count,
                    "status": {
                        "code": Status.StatusCode.Name(span.status.code),
                        "message": span.status.message,
                    },
                    "service_name": resource.get("service.name"),
                    "resource": resource,
                    "scope": ss.scope.name,
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set before serving

    def log_message(self, fmt, *args):
        sys.stderr.write("otlp-receiver: " + (fmt % args) + "\n")

    def answer(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, b"ok")
        else:
            self.answer(404)

    def do_POST(self):
        state = self.state
        try:
            body = self.read_body()
        except ValueError:
            self.answer(413)
            return
        if self.path == "/control":
            mode = body.decode("utf-8", "replace").strip()
            if mode not in MODES:
                self.answer(400, ("unknown mode " + mode).encode())
                return
            state.set_mode(mode)
            self.answer(204)
            return
        if self.path != "/v1/traces":
            self.answer(404)
            return
        mode, changed = state.current()
        waited = 0.0
        while mode == "stall" and waited < state.stall_limit:
            changed.wait(1.0)
            waited += 1.0
            mode, changed = state.current()
        record = {
            "path": self.path,
            "mode": mode,
            "content_type": self.headers.get("Content-Type"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "bytes": len(body),
        }
        if mode in ("unavailable", "stall"):
            state.append(state.requests_path, [dict(record, status=503)])
            self.answer(503, b"unavailable")
            return
        if self.headers.get("Content-Type") != "application/x-protobuf":
            state.append(state.requests_path, [dict(record, status=415)])
            self.answer(415, b"application/x-protobuf only")
            return
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception as e:  # the protobuf runtime's DecodeError and friends
            state.append(state.requests_path, [dict(record, status=400, error=str(e))])
            self.answer(400, str(e).encode())
            return
        spans = list(span_lines(request))
        response = ExportTraceServiceResponse()
        if mode == "reject":
            response.partial_success.rejected_spans = len(spans)
            response.partial_success.error_message = "rejected by the test"
        else:
            state.append(state.spans_path, spans)
        state.append(state.requests_path, [dict(record, status=200, spans=len(spans))])
        self.answer(200, response.SerializeToString(), "application/x-protobuf")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", required=True, help="file the spans are appended to")
    parser.add_argument("--requests", required=True, help="file the requests are logged to")
    parser.add_argument(
        "--stall-limit", type=float, default=120.0, help="longest a stalled request waits (s)"
    )
    args = parser.parse_args()
    for path in (args.spans, args.requests):
        open(path, "a", encoding="utf-8").close()
    Handler.state = State(args.spans, args.requests, args.stall_limit)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
