# Starts the real TensorBoard server on a log folder (argv[1]) with --load_fast argv[2] and prints
# what its HTTP API serves: run and tag names, points, and the error lines of its log.
import json, subprocess, sys, time, urllib.request
logdir, fast = sys.argv[1], sys.argv[2]
port = 6006 if fast == "true" else 6007
server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--port", str(port),
                           "--load_fast", fast, "--reload_interval", "1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
base = "http://localhost:%d" % port
def get(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "X-TensorBoard-Feature-Flags": "{}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
try:
    tags = {}
    for _ in range(60):
        time.sleep(1)
        try:
            tags = get("/data/plugin/scalars/tags")
            if tags: break
        except Exception as e:
            pass
    print("load_fast=%s runs: %s" % (fast, sorted(tags)))
    for run, t in sorted(tags.items()):
        print("  run %s scalar tags: %s" % (run, sorted(t)))
        for tag in sorted(t)[:3]:
            try:
                points = get("/data/plugin/scalars/scalars?run=%s&tag=%s" % (run, tag))
                print("    %s: %d points, last %s" % (tag, len(points), points[-1][1:]))
            except Exception as e:
                print("    %s: %s" % (tag, e))
    for plugin in ("images", "histograms", "text"):
        try:
            print("  %s tags: %s" % (plugin, json.dumps(get("/data/plugin/%s/tags" % plugin))[:300]))
        except Exception as e:
            print("  %s: %s" % (plugin, e))
    try:
        exp = get("/data/plugin/hparams/experiment", {"experimentName": ""})
        print("  hparams experiment: %s" % json.dumps(exp)[:600])
    except Exception as e:
        print("  hparams: %s" % e)
finally:
    server.terminate()
    err = server.communicate(timeout=10)[1].decode(errors="replace")
    bad = [l for l in err.splitlines() if "rror" in l or "oss" in l or "orrupt" in l]
    print("  server stderr lines mentioning errors/loss: %d %s" % (len(bad), bad[:5]))
