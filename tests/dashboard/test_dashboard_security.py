"""Safe by default: escaped stored text, read-only, loopback Host names only."""

from __future__ import annotations

import inspect
import json

import pytest
from dashboard_http import call
from dashboard_studies import HOSTILE_NAME

from autoopt.dashboard import create_app, serve
from autoopt.dashboard.server import host_allowlist, is_loopback


def test_a_script_in_a_study_name_is_shown_as_text_on_every_page(app, populated):
    pages = ["/", f"/studies/{populated.hostile._study_id}", f"/compare?id={populated.hostile._study_id}"]
    for path in pages:
        html = call(app, path).text
        assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html, path
        assert HOSTILE_NAME not in html and "<img src=x" not in html, path


def test_stored_text_inside_figure_data_cannot_close_its_script_block(app, populated):
    html = call(app, f"/studies/{populated.hostile._study_id}").text
    for block in html.split('<script type="application/json"')[1:]:
        data = block.split(">", 1)[1].split("</script>", 1)[0]
        assert "<" not in data
        json.loads(data)


def test_pages_forbid_inline_scripts_with_a_content_security_policy(app, populated):
    for path in ["/", f"/studies/{populated.mnist._study_id}", "/compare"]:
        policy = call(app, path).headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/studies"),
        ("DELETE", "/api/studies/{id}"),
        ("POST", "/api/studies/{id}/rename"),
        ("PUT", "/api/studies/{id}/note"),
    ],
)
def test_writes_are_refused_unless_editing_was_enabled(app, populated, method, path):
    reply = call(app, path.format(id=populated.mnist._study_id), method=method, body=b'{"study_name": "x"}')
    assert reply.status == 405 and "--allow-edit" in reply.text
    assert populated.mnist.study_name in call(app, "/api/studies").text


def test_editing_when_enabled_still_refuses_other_origins(populated):
    editable = create_app(populated.url, allow_edit=True)
    study_id = populated.empty._study_id
    body = json.dumps({"study_name": populated.empty.study_name}).encode()
    path = f"/api/studies/{study_id}/rename"
    foreign = call(editable, path, method="POST", body=body, headers={"Origin": "http://evil.example"})
    assert foreign.status == 403
    same = call(editable, path, method="POST", body=body, headers={"Origin": "http://127.0.0.1"})
    assert same.status != 405 and same.status != 403


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST"])
def test_loopback_host_names_are_answered(app, host):
    assert call(app, "/", headers={"Host": host}).status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example"])
def test_other_host_names_are_refused_against_dns_rebinding(app, host):
    reply = call(app, "/api/studies", headers={"Host": host})
    assert reply.status == 403 and "--host" in reply.text


def test_serve_binds_to_loopback_and_read_only_by_default():
    defaults = {name: p.default for name, p in inspect.signature(serve).parameters.items()}
    assert defaults["host"] == "127.0.0.1" and defaults["allow_edit"] is False
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_plot_labels_escape_stored_text_because_plotly_renders_tags_in_them(app, populated):
    html = call(app, f"/compare?id={populated.hostile._study_id}").text
    block = html.split('<script type="application/json" id="figure-data-ranks">', 1)[1].split("</script>", 1)[0]
    (label,) = json.loads(block)["data"][0]["x"]
    assert label.startswith("&lt;script&gt;document.title=")


def test_a_container_bound_to_all_addresses_can_keep_the_host_allowlist():
    assert host_allowlist("0.0.0.0", None) is None  # --host 0.0.0.0 alone: any Host name, with a warning
    assert host_allowlist("0.0.0.0", ["localhost", "Dash.example"]) == {"localhost", "dash.example"}
    assert host_allowlist("127.0.0.1", None) == {"localhost", "127.0.0.1", "::1"}
