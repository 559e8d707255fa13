#!/usr/bin/env python3
"""The smallest ACS an agent can keep a session with, for footprint runs and layout profiles.

    bench/footprint-acs.py PORT

Listens on 127.0.0.1:PORT without authentication. An Inform gets an InformResponse carrying
the Inform's cwmp:ID and namespace, and a session cookie as ACSs set one; anything else (the
empty POST that ends the CPE's side of a session) gets 204, which ends the session. Prints one
line per Inform on standard output.
"""

import re
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

NS = re.compile(rb'xmlns:[A-Za-z0-9_]+="(urn:dslforum-org:cwmp-1-[0-9])"')
ID = re.compile(rb"<(?:[A-Za-z0-9_]+:)?ID\b[^>]*>([^<]*)<")


class Acs(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if b"Inform>" not in body and b"Inform " not in body:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ns = NS.search(body)
        ident = ID.search(body)
        reply = (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:cwmp="%s"><soap:Header><cwmp:ID soap:mustUnderstand="1">%s</cwmp:ID>'
            "</soap:Header><soap:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"
            "</cwmp:InformResponse></soap:Body></soap:Envelope>"
            % (
                ns.group(1).decode() if ns else "urn:dslforum-org:cwmp-1-0",
                ident.group(1).decode() if ident else "1",
            )
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Set-Cookie", "session=%d; Path=/" % id(self))
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        print("inform", flush=True)


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Acs).serve_forever()
