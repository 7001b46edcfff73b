"""Settings: defaults < TOML file < SWARMDEX_* environment < CLI flags; unknown keys are errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from swarmdex.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SWARMDEX_* from the outside, and a working directory with no ./data in it."""
    for name in list(os.environ):
        if name.upper().startswith("SWARMDEX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults() -> None:
    s = load_settings()
    assert s.data_dir == Path("data")
    assert s.hosts == ["0.0.0.0", "::"]
    assert (s.port, s.udp_port, s.tracker_mode) == (8080, 6969, "listed")
    assert (s.interval, s.interval_jitter, s.min_interval) == (1800, 180, 300)
    assert (s.numwant_default, s.numwant_max) == (50, 200)
    assert s.effective_peer_ttl == 2700
    assert s.allowlist_path == Path("data/allowlist.txt")
    assert s.trusted_proxies == []


def test_derived_values() -> None:
    s = Settings(data_dir=Path("/srv/x"), interval=600, min_interval=60, peer_ttl=61,
                 allowlist=Path("/etc/list"))
    assert s.effective_peer_ttl == 61
    assert s.allowlist_path == Path("/etc/list")
    assert Settings(interval=600, min_interval=60).effective_peer_ttl == 900


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.port = 1  # type: ignore[misc]


def test_each_layer_overrides_the_one_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = toml(tmp_path / "c.toml", "port = 1001\nudp_port = 1002\ninterval = 900\nmin_interval = 61\n")
    s = load_settings(config=config)
    assert (s.port, s.udp_port, s.interval, s.min_interval) == (1001, 1002, 900, 61)

    monkeypatch.setenv("SWARMDEX_PORT", "2001")
    monkeypatch.setenv("SWARMDEX_INTERVAL", "1200")
    s = load_settings(config=config)
    assert (s.port, s.udp_port, s.interval, s.min_interval) == (2001, 1002, 1200, 61)

    s = load_settings({"port": 3001, "udp_port": None, "hosts": None}, config=config)
    assert (s.port, s.udp_port, s.interval) == (3001, 1002, 1200)
    assert s.hosts == ["0.0.0.0", "::"]  # a flag not given (None) leaves the layers below


def test_environment_beats_the_file_even_when_it_says_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = toml(tmp_path / "c.toml", 'tracker_mode = "listed"\n')
    monkeypatch.setenv("SWARMDEX_TRACKER_MODE", "open")
    assert load_settings(config=config).tracker_mode == "open"


def test_lists_come_from_toml_and_json_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = toml(tmp_path / "c.toml", 'hosts = ["127.0.0.1"]\ntrusted_proxies = ["10.0.0.0/8"]\n')
    s = load_settings(config=config)
    assert (s.hosts, s.trusted_proxies) == (["127.0.0.1"], ["10.0.0.0/8"])
    monkeypatch.setenv("SWARMDEX_HOSTS", '["::1", "127.0.0.2"]')
    assert load_settings(config=config).hosts == ["::1", "127.0.0.2"]


def test_a_plain_list_in_the_environment_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SWARMDEX_HOSTS=127.0.0.1` must give the operator a SettingsError, not pydantic's
    internal exception (the CLI turns only SettingsError into a usage message)."""
    monkeypatch.setenv("SWARMDEX_HOSTS", "127.0.0.1")
    try:
        s = load_settings()
    except SettingsError as exc:
        assert "hosts" in str(exc).lower()
    else:
        assert s.hosts == ["127.0.0.1"]


def test_data_dir_config_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml(tmp_path / "d1" / "swarmdex.toml", "port = 1111\n")
    toml(tmp_path / "d2" / "swarmdex.toml", "port = 2222\n")
    toml(tmp_path / "data" / "swarmdex.toml", "port = 3333\n")
    assert load_settings().port == 3333  # ./data is the default data dir
    assert load_settings({"data_dir": tmp_path / "d1"}).port == 1111
    monkeypatch.setenv("SWARMDEX_DATA_DIR", str(tmp_path / "d2"))
    assert load_settings().port == 2222
    assert load_settings({"data_dir": tmp_path / "d1"}).port == 1111  # the flag's dir wins


def test_config_from_environment_and_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_config = toml(tmp_path / "env.toml", "port = 4444\n")
    flag_config = toml(tmp_path / "flag.toml", "port = 5555\n")
    toml(tmp_path / "data" / "swarmdex.toml", "port = 3333\n")
    monkeypatch.setenv("SWARMDEX_CONFIG", str(env_config))
    assert load_settings().port == 4444
    assert load_settings(config=flag_config).port == 5555


def test_unknown_environment_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMDEX_FOO", "1")
    monkeypatch.setenv("SWARMDEX_PROT", "80")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == "unknown setting in environment: SWARMDEX_FOO, SWARMDEX_PROT"


def test_lowercase_environment_is_read_one_way_or_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `swarmdex_interval` variable must mean the same with or without a config file.

    pydantic-settings matches names case-insensitively, but load_settings only looks at
    upper-case names when letting the environment override the file (and when refusing
    unknown names), so a lower-case variable applies without a file and loses to one.
    """
    config = toml(tmp_path / "c.toml", "interval = 900\nmin_interval = 60\n")
    monkeypatch.setenv("swarmdex_interval", "1200")
    with_file = load_settings(config=config).interval
    without = load_settings().interval
    assert (with_file, without) in ((1200, 1200), (900, 1800))


def test_unknown_file_keys_are_named(tmp_path: Path) -> None:
    config = toml(tmp_path / "c.toml", 'port = 1\nprot = 2\n[tracker]\nmode = "x"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config=config)
    assert str(caught.value) == f"{config}: unknown setting(s): prot, tracker"


def test_missing_and_broken_config_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(config=tmp_path / "absent.toml")
    broken = toml(tmp_path / "broken.toml", "port = = 1\n")
    with pytest.raises(SettingsError, match=str(broken)):
        load_settings(config=broken)


@pytest.mark.parametrize(("values", "problem"), [
    ({"port": 70000}, "port"),
    ({"udp_port": -1}, "udp_port"),
    ({"tracker_mode": "closed"}, "tracker_mode"),
    ({"interval": 10}, "interval"),
    ({"numwant_default": 300}, "numwant_default"),
    ({"numwant_default": 100, "numwant_max": 50}, "numwant_default must not exceed numwant_max"),
    ({"interval": 100, "min_interval": 200}, "min_interval must not exceed interval"),
    ({"trusted_proxies": ["10.0.0.0/8", "proxy.example"]}, "not an address or network: 'proxy.example'"),
    ({"connection_id_lifetime": 30}, "connection_id_lifetime"),
    ({"gc_interval": 0}, "gc_interval"),
])
def test_invalid_values_are_settings_errors(values: dict[str, object], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(values)
    assert problem in str(caught.value)
    assert str(caught.value).startswith("invalid settings: ")


def test_invalid_environment_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMDEX_UDP_PORT", "sixty-nine")
    with pytest.raises(SettingsError, match="udp_port"):
        load_settings()


def test_nothing_is_read_at_import_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMDEX_PORT", "1234")
    assert load_settings().port == 1234
    monkeypatch.setenv("SWARMDEX_PORT", "4321")
    assert load_settings().port == 4321
