"""How long `expr lsp` takes to answer, per experiment of experiments/: the time from
`didOpen` to its `publishDiagnostics` (parse, check, the data files' headers), and the time
of a hover on each line that calls a layer. Medians of ROUNDS opens and of every hover.

    cargo build --release && python3 bench/lsp_latency.py [target/release/expr]
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROUNDS = 5
EXPR = sys.argv[1] if len(sys.argv) > 1 else "target/release/expr"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    def __init__(self):
        self.p = subprocess.Popen([EXPR, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.id = 0
        self.request("initialize", {"capabilities": {}})
        self.notify("initialized", {})

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def receive(self):
        length = 0
        while True:
            line = self.p.stdout.readline().strip()
            if not line:
                break
            if line.startswith(b"Content-Length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.id += 1
        self.send({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        while True:
            m = self.receive()
            if m.get("id") == self.id:
                return m

    def wait_diagnostics(self):
        while True:
            m = self.receive()
            if m.get("method") == "textDocument/publishDiagnostics":
                return m


def main():
    s = Server()
    folder = os.path.join(ROOT, "experiments")
    print(f"{'experiment':<22} {'open → diagnostics (ms)':>24} {'hover (ms)':>11}")
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".exp")):
        path = os.path.join(folder, name)
        text = open(path).read()
        uri = "file://" + path
        opens = []
        for r in range(ROUNDS):
            start = time.perf_counter()
            if r == 0:
                s.notify("textDocument/didOpen", {"textDocument": {
                    "uri": uri, "languageId": "exp", "version": 1, "text": text}})
            else:
                s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": r + 1},
                                                     "contentChanges": [{"text": text}]})
            s.wait_diagnostics()
            opens.append((time.perf_counter() - start) * 1000)
        hovers = []
        for line, content in enumerate(text.splitlines()):
            column = content.find("(")
            if column > 2 and not content.lstrip().startswith("//"):
                start = time.perf_counter()
                s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                 "position": {"line": line, "character": column - 1}})
                hovers.append((time.perf_counter() - start) * 1000)
        hover = f"{statistics.median(hovers):.2f}" if hovers else "-"
        print(f"{name:<22} {statistics.median(opens):>24.1f} {hover:>11}")
        s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        s.wait_diagnostics()
    s.request("shutdown", None)
    s.notify("exit", None)


main()
