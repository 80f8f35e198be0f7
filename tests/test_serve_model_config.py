"""skewless serve --model_config_file: several models from one server, TF Serving's version
policies (latest N, specific, all) and version labels over gRPC (the official stubs) and
REST; versions a policy does not serve are NOT_FOUND / 404, unknown labels INVALID_ARGUMENT
/ 400, as in TF Serving; new versions picked up where the policy allows; every kind of bad
config file refused with a message naming it, exit status 1 and no traceback.

The models' versions answer differently (serve_models.expected_z, computed here in plain
Python), so each answer tells which version gave it."""
from __future__ import annotations

import shutil
import textwrap

import grpc
import pytest
import tensorflow as tf
from serve_models import expected_z, write_flights_version
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2
from test_serve import FLIGHTS, Server, flights_inputs, predict_request

from skewless import cli
from skewless.serve.model_config import ModelConfig, models_to_serve

Code = grpc.StatusCode

# One folder of versions 1, 2 and 3, served under four names with four policies. The base
# paths are relative: taken from the config file's folder, not the server's working folder.
CONFIG = """\
model_config_list {
  config {
    name: "newest"
    base_path: "flights"
    model_platform: "tensorflow"
  }
  config {
    name: "latest2"
    base_path: "flights"
    model_platform: "tensorflow"
    model_version_policy { latest { num_versions: 2 } }
  }
  config {
    name: "pinned"
    base_path: "./flights/"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 3 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 3 }
  }
  config {
    name: "every"
    base_path: "flights"
    model_platform: "tensorflow"
    model_version_policy { all {} }
  }
}
"""
SERVED = {"newest": [3], "latest2": [2, 3], "pinned": [1, 3], "every": [1, 2, 3]}
NEWEST = {"newest": 3, "latest2": 3, "pinned": 3, "every": 3}


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    """A folder of versions 1, 2 and 3 of the test model, written once."""
    base = tmp_path_factory.mktemp("versions") / "flights"
    for version in (1, 2, 3):
        write_flights_version(str(base), version)
    return base


@pytest.fixture(scope="module")
def server(flights):
    config = flights.parent / "models.config"
    config.write_text(CONFIG)
    running = Server(None, "--model_config_file", str(config))
    yield running
    running.stop()


def grpc_z(server, name, version=None, label=""):
    """Predict over gRPC: (the version that answered, z of each FLIGHTS row)."""
    request = predict_request(flights_inputs(), "predict", version, name)
    if label:
        request.model_spec.version_label = label
    response = server.stub.Predict(request, 30.0)
    return response.model_spec.version.value, tf.make_ndarray(response.outputs["z"]).tolist()


def rest_path(name, version=None, label=""):
    return (f"/v1/models/{name}" + (f"/versions/{version}" if version is not None else "")
            + (f"/labels/{label}" if label else ""))


def rest_z(server, name, version=None, label=""):
    """Regress over REST: (HTTP status, reply)."""
    body = {"signature_name": "regress",
            "examples": [{"distance": d, "hour": h, "carrier": c} for d, h, c in FLIGHTS]}
    return server.rest("POST", rest_path(name, version, label) + ":regress", body)


def z_of(version):
    return pytest.approx([expected_z(version, *row) for row in FLIGHTS], abs=1e-5)


# ---- policies ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SERVED))
def test_each_model_serves_exactly_its_policys_versions_over_grpc(server, name):
    assert grpc_z(server, name) == (NEWEST[name], z_of(NEWEST[name]))
    for version in (1, 2, 3, 4):
        if version in SERVED[name]:
            assert grpc_z(server, name, version) == (version, z_of(version))
        else:
            with pytest.raises(grpc.RpcError) as raised:
                grpc_z(server, name, version)
            assert raised.value.code() == Code.NOT_FOUND, (name, version)
            assert f"Specific({name}, {version})" in raised.value.details()


@pytest.mark.parametrize("name", sorted(SERVED))
def test_each_model_serves_exactly_its_policys_versions_over_rest(server, name):
    status, reply = rest_z(server, name)
    assert status == 200 and reply["results"] == z_of(NEWEST[name])
    for version in (1, 2, 3, 4):
        status, reply = rest_z(server, name, version)
        if version in SERVED[name]:
            assert status == 200 and reply["results"] == z_of(version)
        else:
            assert status == 404 and f"Specific({name}, {version})" in reply["error"], reply
        status, reply = server.rest("GET", rest_path(name, version) + "/metadata")
        assert status == (200 if version in SERVED[name] else 404), (version, reply)


@pytest.mark.parametrize("name", sorted(SERVED))
def test_model_status_lists_exactly_the_served_versions(server, name):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    statuses = server.model_stub.GetModelStatus(request, 30.0).model_version_status
    assert [(s.version, s.state) for s in statuses] == [
        (version, get_model_status_pb2.ModelVersionStatus.AVAILABLE) for version in SERVED[name]]
    status, reply = server.rest("GET", rest_path(name))
    assert status == 200
    assert [(s["version"], s["state"]) for s in reply["model_version_status"]] == [
        (str(version), "AVAILABLE") for version in SERVED[name]]
    status, reply = server.rest("GET", rest_path(name, 2 if 2 not in SERVED[name] else 4))
    assert status == 404 and "Could not find version" in reply["error"]


def test_an_unknown_model_is_not_found_naming_the_models_served(server):
    with pytest.raises(grpc.RpcError) as raised:
        grpc_z(server, "trains")
    assert raised.value.code() == Code.NOT_FOUND
    assert "'newest', 'latest2', 'pinned', 'every'" in raised.value.details()
    status, reply = server.rest("GET", rest_path("trains"))
    assert status == 404 and "Could not find any versions of model trains" in reply["error"]


# ---- version labels ------------------------------------------------------------------------

@pytest.mark.parametrize("label, version", [("stable", 1), ("canary", 3)])
def test_version_labels_over_grpc_and_rest(server, label, version):
    assert grpc_z(server, "pinned", label=label) == (version, z_of(version))
    status, reply = rest_z(server, "pinned", label=label)
    assert status == 200 and reply["results"] == z_of(version)
    status, reply = server.rest("GET", rest_path("pinned", label=label) + "/metadata")
    assert status == 200 and reply["model_spec"]["version"] == str(version)
    metadata = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata.model_spec.name, metadata.model_spec.version_label = "pinned", label
    metadata.metadata_field.append("signature_def")
    assert server.stub.GetModelMetadata(metadata, 30.0).model_spec.version.value == version
    status, reply = server.rest("GET", rest_path("pinned", label=label))
    assert status == 200 and [s["version"] for s in reply["model_version_status"]] == \
        [str(version)]
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name, request.model_spec.version_label = "pinned", label
    assert [s.version for s in server.model_stub.GetModelStatus(request, 30.0)
            .model_version_status] == [version]


@pytest.mark.parametrize("name, label", [("pinned", "beta"), ("newest", "stable"),
                                         ("pinned", "Stable")])
def test_an_unknown_label_is_invalid_argument_as_in_tf_serving(server, name, label):
    with pytest.raises(grpc.RpcError) as raised:
        grpc_z(server, name, label=label)
    assert raised.value.code() == Code.INVALID_ARGUMENT
    assert f"Unrecognized servable version label: {label}" in raised.value.details()
    for method, path, body in [("POST", rest_path(name, label=label) + ":predict",
                                {"instances": [1]}),
                               ("GET", rest_path(name, label=label), None),
                               ("GET", rest_path(name, label=label) + "/metadata", None)]:
        status, reply = server.rest(method, path, body)
        assert status == 400 and f"Unrecognized servable version label: {label}" in \
            reply["error"], (path, reply)


# ---- following the folder ------------------------------------------------------------------

def test_new_versions_are_picked_up_where_the_policy_allows(flights, tmp_path):
    """latest 2 moves on to versions 3 and 4; specific {4} serves nothing until 4 comes; a
    label may point at version 4 before it exists with
    --allow_version_labels_for_unavailable_models, and is NOT_FOUND until then."""
    shutil.copytree(flights, tmp_path / "flights")
    config = tmp_path / "models.config"
    config.write_text(textwrap.dedent(f"""\
        model_config_list {{
          config {{ name: "rolling" base_path: "{tmp_path / 'flights'}" model_platform: "tensorflow"
                   model_version_policy {{ latest {{ num_versions: 2 }} }}
                   version_labels {{ key: "next" value: 4 }} }}
          config {{ name: "later" base_path: "flights" model_platform: "tensorflow"
                   model_version_policy {{ specific {{ versions: 4 }} }} }}
        }}
        """))
    server = Server(None, "--model_config_file", str(config),
                    "--allow_version_labels_for_unavailable_models")
    try:
        server.wait_for_log(r"no version of 'later' .* yet: waiting")
        assert grpc_z(server, "rolling", 2) == (2, z_of(2))
        status, reply = rest_z(server, "rolling", label="next")
        assert status == 404 and "Specific(rolling, 4)" in reply["error"]
        assert rest_z(server, "later")[0] == 404
        write_flights_version(str(tmp_path / "flights"), 4)
        server.wait_for_log(r"serving rolling versions 3, 4 \(was 2, 3\)")
        server.wait_for_log(r"serving later version 4")
        assert grpc_z(server, "rolling", label="next") == (4, z_of(4))
        assert grpc_z(server, "later") == (4, z_of(4))
        assert rest_z(server, "rolling", 2)[0] == 404
        status, reply = server.rest("GET", rest_path("rolling"))
        assert [s["version"] for s in reply["model_version_status"]] == ["3", "4"]
    finally:
        server.stop()


# ---- flags ---------------------------------------------------------------------------------

def test_tf_serving_flag_spellings_are_aliases():
    args = cli._parse(cli._parser(), ["serve", "--model_name", "m", "--model_base_path", "p",
                                      "--rest_api_port", "0", "--port", "0"])
    assert (args.model_name, args.model_base_path, args.rest_port, args.port) == \
        ("m", "p", 0, 0)
    assert models_to_serve(None, "m", None, "p") == [ModelConfig("m", "p")]
    assert models_to_serve(None, "m", "p", None) == [ModelConfig("m", "p")]


# ---- bad config files ----------------------------------------------------------------------

def _config(body: str) -> str:
    return f'model_config_list {{\n  config {{\n{textwrap.indent(body, "    ")}  }}\n}}\n'


GOOD = 'name: "m"\nbase_path: "flights"\nmodel_platform: "tensorflow"\n'
BAD_CONFIGS = {  # case → (file text, phrases the message holds)
    "syntax error": (_config(GOOD).rstrip("}\n"), [":5:", 'Expected "}"']),
    "unknown field": (_config(GOOD + 'nme: "x"\n'), [":6:5: error:", 'no field named "nme"',
                                                      '    nme: "x"', "^"]),
    "string for a number": (_config(GOOD + "model_version_policy { specific { versions: "
                                           '"one" } }\n'), [":6:", "versions"]),
    "two policies": (_config(GOOD + "model_version_policy { latest {} all {} }\n"),
                     [":6:", "policy_choice"]),
    "duplicate model name": (
        'model_config_list {\n  config { name: "m" base_path: "flights" model_platform: '
        '"tensorflow" }\n  config { name: "m" base_path: "flights" model_platform: '
        '"tensorflow" }\n}\n', ["model 'm' is listed twice (configs 1 and 2)"]),
    "missing base_path": (_config('name: "m"\nmodel_platform: "tensorflow"\n'),
                          ["model 'm' has no base_path"]),
    "missing name": (_config('base_path: "flights"\nmodel_platform: "tensorflow"\n'),
                     ["config 1 has no name"]),
    "label on a version the policy does not serve": (
        _config(GOOD + "model_version_policy { specific { versions: 1 } }\n"
                'version_labels { key: "stable" value: 2 }\n'),
        ["version label 'stable' points at version 2", "(specific 1) does not serve"]),
    "label on a version not loaded": (
        _config(GOOD + 'version_labels { key: "stable" value: 1 }\n'),
        ["version label 'stable' points at version 1, which is not available",
         "serves 3", "--allow_version_labels_for_unavailable_models"]),
    "another platform": (_config('name: "m"\nbase_path: "flights"\nmodel_platform: "pytorch"\n'),
                         ["model_platform 'pytorch' is not supported"]),
    "no platform": (_config('name: "m"\nbase_path: "flights"\n'), ["no model_platform"]),
    "model_type of another platform": (_config(GOOD.replace(
        'model_platform: "tensorflow"', "model_type: OTHER")), ["model_type OTHER"]),
    "specific without versions": (_config(GOOD + "model_version_policy { specific {} }\n"),
                                  ["specific lists no version"]),
    "no model": ("model_config_list {}\n", ["lists no model"]),
    "empty file": ("", ["lists no model"]),
    "custom model config": ("custom_model_config {}\n", ["custom_model_config is not supported"]),
    "base path in cloud storage": (_config(GOOD.replace('"flights"', '"gs://bucket/m"')),
                                   ["model 'm': base_path 'gs://bucket/m' is a URI"]),
    "base path not a directory": (_config(GOOD.replace('"flights"', '"nowhere"')),
                                  ["model 'm'", "nowhere is not a directory"]),
    "base path is one version": (_config(GOOD.replace('"flights"', '"flights/1"')),
                                 ["model 'm'", "is a SavedModel, one version of a model"]),
    "not UTF-8": (b'model_config_list { config { name: "\xff" } }', ["not UTF-8 text"]),
    "a name with a slash": (_config(GOOD.replace('name: "m"', 'name: "a/b"')),
                            ["model 'a/b': a model name cannot hold '/' or ':'"]),
    "a name with a colon": (_config(GOOD.replace('name: "m"', 'name: "m:predict"')),
                            ["model 'm:predict': a model name cannot hold '/' or ':'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_file_is_refused_naming_it(case, flights, capsys):
    text, phrases = BAD_CONFIGS[case]
    config = flights.parent / f"{case.replace(' ', '_')}.config"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert cli.main(["serve", "--model_config_file", str(config), "--port", "0",
                     "--rest-port", "0"]) == 1
    err = capsys.readouterr().err
    message = err[err.index(str(config)):]  # after the log of any version loaded
    for phrase in phrases:
        assert phrase in message, message
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, phrase", [
    (["--model_config_file", "x.config", "--model_name", "m"], "not both"),
    (["base", "--model_config_file", "x.config"], "not both"),
    (["--model_name", "m"], "give the model to serve"),
    (["base"], "give the model to serve"),
    (["base", "--model_name", "m", "--model_base_path", "other"], "given twice"),
    (["--model_config_file", "missing.config"], "missing.config: cannot read"),
    (["base", "--model_name", "a/b"], "--model_name 'a/b': a model name cannot hold '/' or"),
    (["base", "--model_name", "m:c"], "--model_name 'm:c': a model name cannot hold '/' or"),
])
def test_conflicting_or_missing_model_arguments_are_refused(argv, phrase, capsys, tmp_path,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", *argv, "--port", "0", "--rest-port", "0"]) == 1
    err = capsys.readouterr().err
    assert phrase in err and "Traceback" not in err, err
