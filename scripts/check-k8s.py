#!/usr/bin/env python3
"""Checks the Kubernetes manifests in k8s/ without a cluster.

1. Renders every overlay with `kubectl kustomize`.
2. Validates the result against the Kubernetes JSON schemas in strict mode
   (kubernetes-validate, offline) for the oldest and newest supported
   Kubernetes versions.
3. Checks that the manifests and the `parley` binary agree: each Parley
   container's arguments are a real subcommand; its environment and mounted
   config file are accepted by `parley config --json --check <service>` (unknown
   keys fail, and so do settings that service would not honour);
   container ports match the addresses the config makes it listen on; probes
   and scrape annotations name the endpoints and ports the binary serves;
   every service URL in the config names a Service (or StatefulSet pod) and
   port that exist; the storage shard map matches the StatefulSet; the
   gateway's termination grace covers its preStop and drain; the JetStream
   stream has no more replicas than there are NATS servers; every Parley
   workload mounts its own TLS Secret at cluster.tls_dir; NetworkPolicies
   deny by default both ways and let each service reach exactly the pods it
   calls (the gateway never Redis, ScyllaDB or the outside).
4. Starts the binary (`parley up`, and `parley presence` for the admin
   listener of split services) and requests every probe path the manifests
   use, expecting 200.

Usage: scripts/check-k8s.py PARLEY_BINARY KUBERNETES_VALIDATE
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ["dev", "production"]
# Oldest supported (preStop sleep and the pod-index label need 1.30) and newest.
K8S_VERSIONS = ["1.30.0", "1.37.0"]
HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"

failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")


def render(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def validate(validator, overlay, text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        for version in K8S_VERSIONS:
            r = subprocess.run(
                [validator, "--strict", "--quiet", "-k", version, path],
                capture_output=True,
                text=True,
            )
            if r.returncode != 0:
                fail(f"{overlay} (Kubernetes {version})", r.stdout + r.stderr)
    finally:
        os.unlink(path)


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def host_port(url):
    m = re.match(r"^[a-z]+://(?:[^@/]*@)?([^/:,@]+):(\d+)", url)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def container_env(where, container, pod_spec, configmaps):
    """The container's environment as the binary would see it, and the
    config file PARLEY_CONFIG names, copied out of its ConfigMap."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        src = e.get("valueFrom", {})
        if "fieldRef" in src:
            path = src["fieldRef"]["fieldPath"]
            if path == "metadata.labels['apps.kubernetes.io/pod-index']":
                env[e["name"]] = "0"
            elif path in ("metadata.name", "metadata.namespace"):
                env[e["name"]] = "pod"
            else:
                fail(where, f"unexpected fieldRef {path}")
        elif "secretKeyRef" in src:
            # Secrets are not in the repository: check the name is a setting
            # with a stand-in value (username and password come in pairs).
            env[e["name"]] = "secret"
        elif "configMapKeyRef" in src:
            ref = src["configMapKeyRef"]
            env[e["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
    for ef in container.get("envFrom", []):
        ref = ef.get("configMapRef")
        if ref:
            env.update(configmaps[ref["name"]].get("data", {}))
    # Kubernetes expands $(NAME) in a value from the variables defined
    # before it (how secret passwords get into backend URLs).
    names = [e["name"] for e in container.get("env", [])]
    for i, name in enumerate(names):
        if name in env:
            env[name] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda m: env.get(m.group(1), m.group(0)) if m.group(1) in names[:i] else m.group(0),
                env[name],
            )
            if "$(" in env[name]:
                fail(where, f"{name} refers to a variable not defined before it: {env[name]}")
    config_file = None
    if "PARLEY_CONFIG" in env:
        target = Path(env["PARLEY_CONFIG"])
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volume_name = mounts.get(str(target.parent))
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        volume = volumes.get(volume_name, {})
        cm = volume.get("configMap", {}).get("name")
        if cm not in configmaps:
            fail(where, f"PARLEY_CONFIG {target} is not a mounted ConfigMap file")
        else:
            config_file = configmaps[cm]["data"].get(target.name)
            if config_file is None:
                fail(where, f"ConfigMap {cm} has no key {target.name}")
    return env, config_file


def effective_config(where, binary, env, config_file, mode):
    with tempfile.TemporaryDirectory() as tmp:
        run_env = {"PATH": os.environ.get("PATH", "")}
        run_env.update(env)
        if config_file is not None:
            path = Path(tmp) / "parley.toml"
            path.write_text(config_file)
            run_env["PARLEY_CONFIG"] = str(path)
        r = subprocess.run(
            [binary, "config", "--json", "--check", mode], env=run_env, capture_output=True,
            text=True
        )
    if r.returncode != 0:
        fail(where, f"the binary refuses this configuration: {r.stderr.strip()}")
        return None
    return json.loads(r.stdout)


def check_probe(where, container, kind, path, port_name):
    probe = container.get(kind)
    if not probe or "httpGet" not in probe:
        fail(where, f"no HTTP {kind}")
        return
    got = (probe["httpGet"].get("path"), probe["httpGet"].get("port"))
    if got != (path, port_name):
        fail(where, f"{kind} is {got}, the binary serves {path} on port {port_name}")


def check_workload(overlay, doc, binary, configmaps, services, statefulsets, probes_used):
    kind, name = doc["kind"], doc["metadata"]["name"]
    where = f"{overlay} {kind}/{name}"
    pod = doc["spec"]["template"]
    spec = pod["spec"]
    container = next(c for c in spec["containers"] if c["name"] == "parley")
    args = container.get("args", [])
    service = args[0] if args else None
    if service not in ("gateway", "auth", "presence", "fanout", "storage"):
        fail(where, f"args {args} do not name a split-mode service")
        return
    r = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(where, f"`parley {' '.join(args)}` is not a command: {r.stderr.strip()}")

    env, config_file = container_env(where, container, spec, configmaps)
    config = effective_config(where, binary, env, config_file, service)
    if config is None:
        return
    cluster = config["cluster"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    # Listeners: where the binary binds, and that they are reachable.
    # Metrics are never on the public port: every service, the gateway too,
    # serves them on its admin listener.
    if not cluster.get("admin_listen"):
        fail(where, "cluster.admin_listen is unset: no probe or metrics endpoint")
        return
    if service == "gateway":
        listeners = {"http": config["listen"], "admin": cluster["admin_listen"]}
        metrics_port, health_port = "admin", "http"
    else:
        listeners = {"grpc": cluster["grpc_listen"], "admin": cluster["admin_listen"]}
        metrics_port, health_port = "admin", "admin"
    for port_name, addr in listeners.items():
        if ports.get(port_name) != port_of(addr):
            fail(where, f"port {port_name} is {ports.get(port_name)}, the binary listens on {addr}")
        if addr.startswith("127.") or addr.startswith("[::1]"):
            fail(where, f"{addr} is loopback: other pods cannot reach it")

    check_probe(where, container, "readinessProbe", READY, health_port)
    check_probe(where, container, "livenessProbe", HEALTH, health_port)
    probes_used.add((health_port == "http", READY))
    probes_used.add((health_port == "http", HEALTH))
    ann = pod["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != METRICS:
        fail(where, "no Prometheus scrape annotations for /metrics")
    elif int(ann.get("prometheus.io/port", 0)) != ports.get(metrics_port):
        fail(where, f"prometheus.io/port {ann.get('prometheus.io/port')} is not the {metrics_port} port")
    probes_used.add((metrics_port == "http", METRICS))

    sc = container.get("securityContext", {})
    psc = spec.get("securityContext", {})
    if not psc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem"):
        fail(where, "Parley containers run as non-root with a read-only root filesystem")
    if not container.get("resources", {}).get("requests") or not container.get("resources", {}).get("limits"):
        fail(where, "no resource requests and limits")

    if service == "gateway":
        sleep = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        drain = config["gateway"]["drain_timeout_secs"]
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if sleep <= 0:
            fail(where, "no preStop pause before the gateway stops accepting")
        if grace < sleep + drain + 5:
            fail(where, f"terminationGracePeriodSeconds {grace} < preStop {sleep} + drain {drain} + 5")
    if service == "auth" and config["auth"].get("signing_keys_dir"):
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        if config["auth"]["signing_keys_dir"] not in mounts:
            fail(where, f"auth.signing_keys_dir {config['auth']['signing_keys_dir']} is not mounted")
    # Internal calls are mutual TLS: the identity directory is mounted
    # from this service's own Secret.
    tls_dir = cluster.get("tls_dir")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    secret = volumes.get(mounts.get(tls_dir), {}).get("secret", {})
    if secret.get("secretName") != f"parley-tls-{service}":
        fail(where, f"cluster.tls_dir {tls_dir} is not the Secret parley-tls-{service}")
    elif secret.get("defaultMode", 0o644) & 0o006:
        fail(where, "the TLS Secret is mounted readable by every user (defaultMode)")
    if service == "storage":
        replicas = doc["spec"].get("replicas", 1)
        if kind != "StatefulSet":
            fail(where, "storage must be a StatefulSet (stable shard identities)")
        if not (config["storage"]["shard_count"] == len(cluster["storage_urls"]) == replicas):
            fail(where, f"shard_count {config['storage']['shard_count']}, "
                        f"{len(cluster['storage_urls'])} storage_urls and {replicas} replicas must agree")
        for i, url in enumerate(cluster["storage_urls"]):
            if not url.startswith(f"https://{name}-{i}.{doc['spec']['serviceName']}:"):
                fail(where, f"storage_urls[{i}] = {url} is not pod {name}-{i}")

    nats = statefulsets.get("nats")
    if nats and cluster["stream_replicas"] > nats["spec"].get("replicas", 1):
        fail(where, f"cluster.stream_replicas {cluster['stream_replicas']} exceeds the "
                    f"{nats['spec'].get('replicas', 1)} NATS servers")

    # Every address in the config names something that exists.
    urls = [cluster["auth_url"], cluster["presence_url"], cluster["bus"], cluster["presence_store"]]
    urls += cluster["storage_urls"] + cluster["fanout_urls"]
    if cluster["store"] != "embedded":
        urls.append(cluster["store"])
    for url in urls:
        if url != "memory":
            check_address(where, url, services, statefulsets)


def check_address(where, url, services, statefulsets):
    host, port = host_port(url)
    if host is None:
        fail(where, f"{url} has no host:port")
        return
    parts = host.split(".")
    if len(parts) == 2:  # a StatefulSet pod: <set>-<i>.<headless service>
        pod, svc_name = parts
        m = re.match(r"^(.*)-(\d+)$", pod)
        sts = statefulsets.get(m.group(1)) if m else None
        if not sts or sts["spec"].get("serviceName") != svc_name or int(m.group(2)) >= sts["spec"].get("replicas", 1):
            fail(where, f"{url}: no pod {pod} of a StatefulSet behind Service {svc_name}")
            return
    elif len(parts) == 1:
        svc_name = host
    else:
        return  # outside the namespace: not ours to check
    svc = services.get(svc_name)
    if not svc:
        fail(where, f"{url}: no Service {svc_name}")
    elif port not in [p["port"] for p in svc["spec"]["ports"]]:
        fail(where, f"{url}: Service {svc_name} has no port {port}")


def check_services(overlay, docs):
    pods = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    for svc in (d for d in docs if d["kind"] == "Service"):
        where = f"{overlay} Service/{svc['metadata']['name']}"
        selector = svc["spec"].get("selector", {})
        targets = [p for p in pods
                   if selector.items() <= p["spec"]["template"]["metadata"]["labels"].items()]
        if not targets:
            fail(where, f"selects no pods ({selector})")
            continue
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for p in targets:
                names = {cp.get("name") for c in p["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", [])}
                numbers = {cp["containerPort"] for c in p["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", [])}
                if target not in names and target not in numbers:
                    fail(where, f"targetPort {target} is not a port of {p['metadata']['name']}")


# What each Parley service may reach (egress), by the labels of the pods it
# calls; everything else is denied. The gateway faces the internet: it must
# never reach Redis, ScyllaDB or anything outside the namespace.
EGRESS = {
    "gateway": {"parley/auth", "parley/storage", "parley/presence", "parley/fanout", "nats"},
    "auth": {"scylla", "nats"},
    "storage": {"scylla", "nats"},
    "presence": {"redis"},
    "fanout": {"parley/storage", "parley/presence", "nats"},
}


def check_network_policies(overlay, docs):
    where = f"{overlay} NetworkPolicy"
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    if not any(p["spec"].get("podSelector") == {} and
               set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"} and
               not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies):
        fail(where, "no default deny of ingress and egress for every pod")
    for component, allowed in EGRESS.items():
        labels = {"app.kubernetes.io/name": "parley", "app.kubernetes.io/component": component}
        reach = set()
        for p in policies:
            sel = p["spec"].get("podSelector", {}).get("matchLabels", {})
            if not sel.items() <= labels.items():
                continue
            for rule in p["spec"].get("egress", []):
                for to in rule.get("to", [{}]):
                    ns = to.get("namespaceSelector", {}).get("matchLabels", {})
                    pod = to.get("podSelector", {}).get("matchLabels", {})
                    if ns.get("kubernetes.io/metadata.name") in ("kube-system", "monitoring"):
                        continue  # DNS, and metrics/traces to the monitoring namespace
                    if ns or not pod:
                        reach.add("outside the namespace")
                    elif pod.get("app.kubernetes.io/name") == "parley":
                        reach.add(f"parley/{pod.get('app.kubernetes.io/component', '*')}")
                    else:
                        reach.add(pod.get("app.kubernetes.io/name", "*"))
        if reach != allowed:
            fail(where, f"{component} may reach {sorted(reach)}, it needs exactly {sorted(allowed)}")


def check_endpoints_served(binary, probes_used):
    """The binary answers every probe and metrics path the manifests use."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "PARLEY_DATA_DIR": f"{tmp}/up",
               "PARLEY_LISTEN": "127.0.0.1:0", "PARLEY_LOG": "warn"}
        up = subprocess.Popen([binary, "up"], env=env, stdout=subprocess.PIPE, text=True)
        split_env = {"PATH": os.environ.get("PATH", ""), "PARLEY_DATA_DIR": f"{tmp}/presence",
                     "PARLEY_CLUSTER__GRPC_LISTEN": "127.0.0.1:0",
                     "PARLEY_CLUSTER__ADMIN_LISTEN": "127.0.0.1:0",
                     "PARLEY_CLUSTER__ANNOUNCE": "true", "PARLEY_LOG": "warn"}
        os.makedirs(f"{tmp}/presence", mode=0o700)
        # Split mode needs its mutual-TLS identity.
        subprocess.run([binary, "certs", "--out", f"{tmp}/tls"], check=True,
                       stdout=subprocess.DEVNULL)
        split_env["PARLEY_CLUSTER__TLS_DIR"] = f"{tmp}/tls/presence"
        presence = subprocess.Popen([binary, "presence"], env=split_env, stdout=subprocess.DEVNULL)
        try:
            gateway_base = None
            deadline = time.time() + 60
            while gateway_base is None and time.time() < deadline:
                line = up.stdout.readline()
                m = re.search(r"running at (http://[^/]+)/", line or "")
                if m:
                    gateway_base = m.group(1)
            admin_file = Path(tmp) / "presence" / "admin.addr"
            while not admin_file.exists() and time.time() < deadline:
                time.sleep(0.05)
            if gateway_base is None or not admin_file.exists():
                fail("binary", "parley up / parley presence did not start")
                return
            admin_base = "http://" + admin_file.read_text().strip()
            for is_gateway, path in sorted(probes_used):
                url = (gateway_base if is_gateway else admin_base) + path
                try:
                    status = urllib.request.urlopen(url, timeout=10).status
                except Exception as e:  # noqa: BLE001 - report any failure
                    status = e
                if status != 200:
                    fail("binary", f"GET {url} answered {status}, not 200")
        finally:
            for p in (up, presence):
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def check_image(overlays_docs):
    """The image (deploy/Dockerfile) runs as the user the pods expect."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    users = re.findall(r"^USER (\d+)", dockerfile, re.M)
    if not users:
        fail("deploy/Dockerfile", "no numeric USER")
        return
    uid = int(users[-1])
    if not re.search(r'^ENTRYPOINT \["/usr/local/bin/parley"\]', dockerfile, re.M):
        fail("deploy/Dockerfile", "the entrypoint is not the parley binary")
    for overlay, docs in overlays_docs:
        for d in docs:
            if d["kind"] not in ("Deployment", "StatefulSet"):
                continue
            if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name") != "parley":
                continue
            run_as = d["spec"]["template"]["spec"].get("securityContext", {}).get("runAsUser")
            if run_as != uid:
                fail(f"{overlay} {d['metadata']['name']}", f"runAsUser {run_as}, the image's USER is {uid}")


def main():
    binary, validator = sys.argv[1], sys.argv[2]
    probes_used = set()
    rendered = []
    for overlay in OVERLAYS:
        text, docs = render(overlay)
        rendered.append((overlay, docs))
        validate(validator, overlay, text)
        configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
        statefulsets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
        # Generated ConfigMaps carry a hash suffix; workloads refer to it.
        parley = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
                  and d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name") == "parley"]
        if len(parley) != 5:
            fail(overlay, f"expected the 5 Parley services, found {len(parley)}")
        for doc in parley:
            check_workload(overlay, doc, binary, configmaps, services, statefulsets, probes_used)
        check_services(overlay, docs)
        check_network_policies(overlay, docs)
        print(f"k8s/overlays/{overlay}: {len(docs)} resources rendered and checked")
    check_image(rendered)
    check_endpoints_served(binary, probes_used)
    if failures:
        print("\n".join(["Kubernetes manifest check FAILED:"] + failures), file=sys.stderr)
        sys.exit(1)
    print("Kubernetes manifests: valid, and in agreement with the parley binary")


if __name__ == "__main__":
    main()
