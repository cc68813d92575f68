"""Configuration: defaults, VIRTKG_* environment variables, then explicit overrides (flags)."""

import pytest

from virtkg.cli import build_parser, format_recommendation_table
from virtkg.config import Settings, env_name, load_settings, settings_table
from virtkg.errors import BadRequest


def test_defaults_work_without_environment():
    settings = load_settings({})
    assert settings.store == "embedded"
    assert settings.query_timeout == 10.0
    assert settings.update_token == ""


def test_environment_overrides_defaults_and_is_typed():
    settings = load_settings(
        {
            "VIRTKG_PORT": "9123",
            "VIRTKG_QUERY_TIMEOUT": "2.5",
            "VIRTKG_FETCH_ALLOW": "http://a/, http://b/",
        }
    )
    assert settings.port == 9123
    assert settings.query_timeout == 2.5
    assert settings.fetch_allow == ("http://a/", "http://b/")


def test_flags_override_environment():
    settings = load_settings({"VIRTKG_PORT": "9123"}, port=8001)
    assert settings.port == 8001


def test_endpoint_implies_remote_store():
    settings = load_settings({"VIRTKG_ENDPOINT": "http://127.0.0.1:7878/query"})
    assert settings.store == "remote"


def test_bad_environment_value_is_a_typed_error_naming_the_variable():
    with pytest.raises(BadRequest, match="VIRTKG_PORT"):
        load_settings({"VIRTKG_PORT": "eighty"})


def test_unknown_override_is_rejected():
    with pytest.raises(BadRequest, match="unknown settings"):
        Settings().with_overrides({"colour": "blue"})


def test_table_documents_every_setting_once():
    table = settings_table()
    for name in Settings.__dataclass_fields__:
        assert table.count(f"`{env_name(name)}`") == 1


def test_cli_flags_map_to_settings():
    args = build_parser().parse_args(["serve", "--port", "9000", "--update-token", "s3cret"])
    assert args.port == 9000
    assert args.update_token == "s3cret"


def test_every_setting_is_a_serve_flag():
    """The README's table promises a flag per setting: `virtkg serve` accepts each one."""
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # noqa: SLF001
    flags = {option for action in serve._actions for option in action.option_strings}  # noqa: SLF001
    for name in Settings.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in flags


def test_recommendation_table_lists_ranked_rows():
    data = {
        "results": [
            {
                "technology": {"label": "Firecracker", "kind": {"label": "microVM"}},
                "fits": True,
                "score": 1.0,
                "requirements": [{"status": "met"}],
            },
            {
                "technology": {"label": "Docker Engine", "kind": {"label": "container"}},
                "fits": False,
                "score": 0.5,
                "requirements": [{"status": "met"}, {"status": "unmet"}],
            },
        ]
    }
    lines = format_recommendation_table(data).splitlines()
    assert lines[0].split()[:2] == ["rank", "technology"]
    assert lines[2].split()[:2] == ["1", "Firecracker"]
    assert "no" in lines[3].split()
