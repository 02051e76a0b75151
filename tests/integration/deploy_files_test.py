#!/usr/bin/env python3
"""Checks the files under deploy/: Kubernetes manifests, the systemd unit, the container file and
the example configs (each must pass civitas-gateway --check-config).
Usage: deploy_files_test.py DEPLOY_DIR GATEWAY_BINARY"""
import glob
import os
import subprocess
import sys
import tempfile

import yaml

deploy, gateway = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def check_config(name, text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    result = subprocess.run([gateway, "--config", f.name, "--check-config"],
                            capture_output=True, text=True)
    os.unlink(f.name)
    check(f"{name} passes --check-config", result.returncode == 0, result.stderr)


for path in sorted(glob.glob(os.path.join(deploy, "kubernetes", "*.yaml"))):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    name = os.path.basename(path)
    check(f"{name}: one StatefulSet", len(by_kind.get("StatefulSet", [])) == 1)
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    check(f"{name}: selector matches the pod labels",
          all(spec["template"]["metadata"]["labels"].get(k) == v
              for k, v in spec["selector"]["matchLabels"].items()))
    check(f"{name}: one replica per city database", spec.get("replicas") == 1)
    check(f"{name}: a volume per instance", len(spec.get("volumeClaimTemplates", [])) == 1)
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(f"{name}: grpc, http and metrics ports",
          ports == {"grpc": 50051, "http": 8080, "metrics": 9090}, str(ports))
    check(f"{name}: Prometheus scrapes the metrics port",
          spec["template"]["metadata"]["annotations"].get("prometheus.io/port") == "9090")
    check(f"{name}: readiness on grpc.health.v1",
          container["readinessProbe"].get("grpc", {}).get("port") == 50051)
    check(f"{name}: liveness on /healthz",
          container["livenessProbe"].get("httpGet", {}).get("path") == "/healthz")
    check(f"{name}: startup probe", "startupProbe" in container)
    check(f"{name}: data volume mounted at the data dir",
          any(m["name"] == "data" and m["mountPath"] == "/var/lib/civitas"
              for m in container["volumeMounts"]))
    check(f"{name}: grace period longer than the drain",
          pod.get("terminationGracePeriodSeconds", 30) >= 25)
    check(f"{name}: non-root, no privilege escalation",
          pod["securityContext"].get("runAsNonRoot") is True and
          container["securityContext"].get("allowPrivilegeEscalation") is False)
    config_maps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    referenced = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    check(f"{name}: its ConfigMap is defined", referenced and referenced[0] in config_maps)
    gateway_yaml = config_maps[referenced[0]]["data"]["gateway.yaml"]
    check_config(f"{name}: gateway.yaml", gateway_yaml)
    cfg = yaml.safe_load(gateway_yaml)
    check(f"{name}: listens on all interfaces in the pod",
          cfg["listen"].startswith("0.0.0.0:") and cfg["http_listen"].startswith("0.0.0.0:"))
    services = by_kind.get("Service", [])
    check(f"{name}: a Service selects the pods",
          any(s["spec"]["selector"] == spec["selector"]["matchLabels"] for s in services))

for path in sorted(glob.glob(os.path.join(deploy, "config", "*.yaml"))):
    check_config(f"config/{os.path.basename(path)}", open(path).read())

unit = open(os.path.join(deploy, "systemd", "civitas-gateway.service")).read()
for directive in ["DynamicUser=yes", "StateDirectory=civitas", "ProtectSystem=strict",
                  "NoNewPrivileges=yes", "CapabilityBoundingSet=", "LimitNOFILE=",
                  "KillSignal=SIGTERM", "--check-config"]:
    check(f"systemd unit has {directive}", directive in unit)

containerfile = open(os.path.join(deploy, "container", "Containerfile")).read()
check("container builds on debian:bookworm-slim",
      containerfile.count("FROM debian:bookworm-slim") == 2)
check("container runs as a non-root user", "USER civitas" in containerfile)
check("container stops with SIGTERM", "STOPSIGNAL SIGTERM" in containerfile)



def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_edge_answers(paths):
    """Runs nginx with civitas-http-location.conf in front of a stand-in instance that answers
    "instance <path>" to everything; returns {path: (status, body)}."""
    import shutil
    import time
    import urllib.error
    import urllib.request
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "civitas"))
        os.makedirs(os.path.join(d, "tmp"))
        for f in ["civitas-limits.conf", "civitas-maps.conf", "civitas-http-location.conf"]:
            shutil.copy(os.path.join(deploy, "nginx", f), os.path.join(d, "civitas", f))
        open(os.path.join(d, "civitas", "cities.map"), "w").write("demo civitas_demo;\n")
        open(os.path.join(d, "civitas", "hosts.map"), "w").write("")
        edge, instance = free_port(), free_port()
        temp = " ".join(f"{k}_temp_path {d}/tmp/{k};" for k in
                        ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
        open(os.path.join(d, "nginx.conf"), "w").write(
            f"daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n"
            f"events {{ worker_connections 64; }}\nhttp {{ access_log off; {temp}\n"
            f"  upstream civitas_demo_http {{ server 127.0.0.1:{instance}; }}\n"
            "  include civitas/civitas-limits.conf; include civitas/civitas-maps.conf;\n"
            f"  server {{ listen 127.0.0.1:{edge}; include civitas/civitas-http-location.conf; }}\n"
            f"  server {{ listen 127.0.0.1:{instance}; location / {{ return 200 \"instance $uri\"; }} }}\n"
            "}\n")
        proc = subprocess.Popen([nginx, "-p", d + "/", "-c", os.path.join(d, "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        answers = {}
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{edge}/", timeout=1)
                except urllib.error.HTTPError:
                    break
                except OSError:
                    time.sleep(0.05)
            for path in paths:
                req = urllib.request.Request(f"http://127.0.0.1:{edge}{path}",
                                             headers={"x-civitas-city": "demo"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        answers[path] = (r.status, r.read().decode())
                except urllib.error.HTTPError as e:
                    answers[path] = (e.code, "")
        finally:
            proc.terminate()
            proc.wait()
        return answers


# AdminService's JSON routes (the console's Modules and Backups screens) have no route through
# the edge; the modules' routes do.
admin_paths = ["/cities/demo/v1/cities/demo/modules", "/cities/demo/v1/cities/demo/modules:install",
               "/v1/cities/demo/backups", "/cities/demo//v1/cities/demo/backups",
               "/cities/demo/v1/%63ities/demo/modules", "/v1/cities"]
module_paths = ["/cities/demo/v1/articles", "/v1/reports"]
answers = http_edge_answers(admin_paths + module_paths)
for path in admin_paths:
    check(f"the HTTP edge refuses {path}", answers.get(path, (0, ""))[0] == 404, answers.get(path))
for path in module_paths:
    check(f"the HTTP edge passes {path}", answers.get(path, (0, ""))[1].startswith("instance "),
          answers.get(path))

print(f"deploy files: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
