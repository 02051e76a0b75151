"""The embedded demo gateway as a real process on loopback ports, with a temporary data folder, for
the Python integration tests (each imports it from this folder)."""
import os
import subprocess
import tempfile
import time


class DemoGateway:
    def __init__(self, gateway, ctl):
        self.ctl = ctl
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        self.log = open(os.path.join(self.dir.name, "log"), "w")
        self.proc = subprocess.Popen(
            [gateway, f"--data_dir={self.dir.name}/state", "--listen=127.0.0.1:0",
             "--http_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0", f"--port_file={port_file}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(500):
            if os.path.exists(port_file) and len(open(port_file).read().split()) >= 3:
                break
            time.sleep(0.02)
        self.grpc_port, self.http_port, self.metrics_port = open(port_file).read().split()[:3]
        self.base = f"http://127.0.0.1:{self.http_port}"

    def token(self, subject, role):
        """A token of the demo's development key for `subject` with `role` in city demo."""
        return subprocess.check_output(
            [self.ctl, "token", "mint", "--city", "demo", "--subject", subject, "--role", role,
             "--signing-key", f"{self.dir.name}/state/dev-signing-key.pem"], text=True).strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        self.dir.cleanup()
