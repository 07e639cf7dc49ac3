"""No configured secret reaches any output (issue #13 case 8): the deployed web process with an
HTTP source whose every kind of secret is echoed back by the upstream, in records, rejected
records and error bodies. Checked: every log line (the "config loaded" line included),
/health, /metrics, every /api/* answer, the page, its layout (source label) and a dashboard
refresh callback."""

import json
import signal
import time

from tests.httpserver import ScriptedServer, json_reply
from tests.roles import call_callback
from tests.test_deploy import LOGIN, web  # noqa: F401 - web is a fixture

SECRETS = {"url_password": "URLPASS-1111", "query_token": "QUERYTOKEN-2222",
           "appid": "APPID-3333", "param_key": "PARAMKEY-4444", "custom": "CUSTOM-5555",
           "env_header": "ENVHEADER-6666"}
ECHO = " ".join(SECRETS.values())


class EchoingUpstream(ScriptedServer):
    """Answers 401 (echoing every secret) to the first request, then records that echo them,
    one of which the schema rejects."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.route("/data", self.answer)
        self.start()

    def answer(self, req):
        self.calls += 1
        if self.calls == 1:
            return json_reply({"error": f"bad key in {req.path}: {ECHO}"}, 401)
        return json_reply([{"id": self.calls, "value": 1.0, "note": f"echo {ECHO}"},
                           {"id": -self.calls, "value": f"not a number {ECHO}"}])


def test_no_secret_in_logs_api_health_metrics_or_page(web, tmp_path):  # noqa: F811
    """Each configured secret (URL password, secret query values incl. appid and a
    secret_params name, a header from ${ENV}) is masked in the config line and absent from
    every log line and HTTP answer, though the upstream echoes them all; Oslo (not a secret)
    stays visible."""
    upstream = EchoingUpstream()
    url = upstream.url("/data").replace("http://", f"http://user:{SECRETS['url_password']}@")
    w = web(extra_env={
        "STREAMDASH_SOURCE__TYPE": "http", "STREAMDASH_SOURCE__NAME": "weather",
        "STREAMDASH_SOURCE__URL": f"{url}?token={SECRETS['query_token']}",
        "STREAMDASH_SOURCE__PARAMS__APPID": SECRETS["appid"],
        "STREAMDASH_SOURCE__PARAMS__KEY": SECRETS["param_key"],
        "STREAMDASH_SOURCE__PARAMS__CUSTOM": SECRETS["custom"],
        "STREAMDASH_SOURCE__PARAMS__CITY": "Oslo",
        "STREAMDASH_SOURCE__SECRET_PARAMS": "[custom]",
        "STREAMDASH_SOURCE__HEADERS__X_TOKEN": "${SD_TEST_HEADER}",
        "SD_TEST_HEADER": SECRETS["env_header"],
        "STREAMDASH_SOURCE__MAX_TRIES": "1",
        "STREAMDASH_SCHEMA__FIELDS__VALUE__TYPE": "float",
        "STREAMDASH_LOG__LEVEL": "DEBUG"})
    try:
        w.wait_ready()
        deadline = time.monotonic() + 30
        while not (w.get("/api/dlq").json()["count"] and w.get("/api/errors").json()["count"]):
            assert time.monotonic() < deadline, w.output()[-3000:]
            time.sleep(0.1)
        paths = ("/health", "/health/ready", "/metrics", "/api/metrics?since=5m",
                 "/api/errors", "/api/dlq", "/api/alerts", "/api/windows", "/",
                 "/_dash-layout", "/_dash-dependencies")
        answers = {p: w.get(p).text for p in paths}
        answers["tick callback"] = json.dumps(call_callback(w, "client-state", auth=LOGIN))
        w.kill(signal.SIGTERM)
        assert w.proc.wait(15) == 0
    finally:
        upstream.stop()
    out = w.output()
    config_line = next(json.loads(line) for line in out.splitlines()
                       if '"config loaded"' in line)
    source = config_line["config"]["source"]
    assert source["params"]["appid"] == "***" and source["params"]["city"] == "Oslo"
    assert source["params"]["custom"] == "***" and source["params"]["key"] == "***"
    assert "***" in answers["tick callback"] and "echo" in answers["tick callback"]
    assert "***" in answers["/api/dlq"] and "***" in answers["/api/errors"]
    for where, text in [("log", out), *answers.items()]:
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} in {where}"
