"""Where the network listens and what it needs: [HOST:]PORT, the token (flag, environment, box.toml, the state
folder, or a new one kept there with mode 0600), the checks of [web] and [osc], and the flags of `run`."""

import dataclasses
import stat

import pytest

from device.cli import build_parser, config_from_args
from device.config import ConfigError, from_dict
from device.net.address import Address, AddressError, listen_address, send_address
from device.net.auth import TOKEN_FILE, Guard, TokenError, check_token, find_token, state_folder
from device.remote import open_remote
from tests.net_helpers import NetBox, net_config


@pytest.mark.parametrize(("text", "address"), [
    ("8080", Address("127.0.0.1", 8080)), ("0.0.0.0:8080", Address("0.0.0.0", 8080)),
    ("localhost:0", Address("localhost", 0)), ("[::1]:9000", Address("::1", 9000)),
    (" 192.168.1.20:80 ", Address("192.168.1.20", 80)),
])
def test_a_listening_address_is_host_and_port_the_host_this_machine_unless_given(text, address):
    assert listen_address(text) == address


@pytest.mark.parametrize(("text", "reason"), [
    ("http", "'http': the port must be a number 0..65535"), ("8080:host", "'8080:host': the port must be a number"),
    ("70000", "'70000': the port must be a number 0..65535"), ("::1:80", "an IPv6 host goes in brackets"),
    ("[::1]80", "is not [IPV6]:PORT"), ("a b:80", "'a b' is not a host name or address"),
])
def test_a_wrong_listening_address_says_why(text, reason):
    with pytest.raises(AddressError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        listen_address(text)


def test_a_sending_address_needs_a_host_and_a_port_above_zero():
    assert send_address("127.0.0.1:9001") == Address("127.0.0.1", 9001)
    for text in ("9001", "127.0.0.1:0"):
        with pytest.raises(AddressError):
            send_address(text)


def test_loopback_and_everywhere_are_told_apart():
    assert [listen_address(t).loopback for t in ("8080", "localhost:1", "[::1]:1", "0.0.0.0:1", "10.0.0.2:1")] == [
        True, True, True, False, False]
    assert [listen_address(t).everywhere for t in ("0.0.0.0:1", "[::]:1", "8080")] == [True, True, False]


def test_a_new_token_is_kept_in_the_state_folder_readable_by_its_owner_only(tmp_path):
    token, where = find_token("", tmp_path / "state")
    path = tmp_path / "state" / TOKEN_FILE
    assert (where, path.read_text()) == (f"new, in {path}", token + "\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 32
    assert find_token("", tmp_path / "state") == (token, f"in {path}")  # the next start finds it


def test_a_given_token_wins_and_nothing_is_written(tmp_path):
    assert find_token("given-token", tmp_path) == ("given-token", "")
    assert list(tmp_path.iterdir()) == []


def test_a_stored_token_file_that_is_unusable_is_replaced(tmp_path):
    (tmp_path / TOKEN_FILE).write_text("has spaces in it\n")
    token, where = find_token("", tmp_path)
    assert where.startswith("new, in ")
    assert token != "has spaces in it"


def test_the_state_folder_is_systemds_then_xdgs_then_the_homes():
    assert state_folder({"STATE_DIRECTORY": "/var/lib/melodybox:/var/lib/melodybox/captures"}) == (
        state_folder({"STATE_DIRECTORY": "/var/lib/melodybox"}))
    assert str(state_folder({"STATE_DIRECTORY": "/var/lib/melodybox:/x"})) == "/var/lib/melodybox"
    assert str(state_folder({"XDG_STATE_HOME": "/x/state"})) == "/x/state/melodybox"
    assert str(state_folder({"HOME": "/home/pi"})) == "/home/pi/.local/state/melodybox"


@pytest.mark.parametrize("token", ["", "with space", "é-accent", "x" * 257, "tab\there"])
def test_a_token_a_header_cannot_carry_is_refused(token):
    with pytest.raises(TokenError):
        check_token(token)


def test_the_guard_takes_the_bearer_token_only():
    guard = Guard("s3cret")
    assert [guard.allows(h) for h in ("Bearer s3cret", "bearer s3cret", " Bearer  s3cret ", "Bearer s3cre",
                                      "Bearer s3cretx", "s3cret", "Basic s3cret", None, "", "Bearer é")] == [
        True, True, True, False, False, False, False, False, False, False]


@pytest.mark.parametrize(("section", "reason"), [
    ({"web": {"listen": "80:80:80"}}, "box.toml: web.listen = '80:80:80': '80:80:80': an IPv6 host goes in brackets"),
    ({"osc": {"listen": "x"}}, "box.toml: osc.listen = 'x': 'x': the port must be a number 0..65535"),
    ({"osc": {"send": "9000"}}, "box.toml: osc.send = '9000': '9000' is not HOST:PORT, e.g. 127.0.0.1:9001"),
    ({"web": {"token": "two words"}}, "box.toml: web.token = (hidden): a token is 1..256 visible ASCII characters"),
    ({"web": {"port": 80}}, "box.toml: unknown key web.port (known: listen, token)"),
])
def test_web_and_osc_in_box_toml_are_checked_naming_the_key(section, reason):
    with pytest.raises(ConfigError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        from_dict(section, source="box.toml")


def test_the_flags_set_web_and_osc_and_the_flag_token_beats_the_environment(monkeypatch):
    monkeypatch.setenv("MELODYBOX_WEB_TOKEN", "from-the-environment")
    args = build_parser().parse_args(["run", "--web", "0.0.0.0:8080", "--osc", "9000", "--osc-send",
                                      "10.0.0.5:9001"])
    config = config_from_args(args)
    assert (config.web.listen, config.web.token, config.osc.listen, config.osc.send) == (
        "0.0.0.0:8080", "from-the-environment", "9000", "10.0.0.5:9001")
    args = build_parser().parse_args(["run", "--web", "8080", "--web-token", "from-the-flag"])
    assert config_from_args(args).web.token == "from-the-flag"


def test_a_wrong_flag_value_is_a_one_line_error_naming_it():
    args = build_parser().parse_args(["run", "--osc-send", "nowhere"])
    with pytest.raises(ConfigError, match="command line: osc.send = 'nowhere': 'nowhere' is not HOST:PORT"):
        config_from_args(args)


def test_without_a_token_the_box_makes_one_keeps_it_and_says_where(tmp_path):
    config = net_config(tmp_path)
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, token=""))
    net_box = NetBox(config, environ={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        path = tmp_path / "state" / "melodybox" / TOKEN_FILE
        assert path.read_text().strip() == net_box.remote.token
        line = next(line for line in net_box.said if line.startswith("web page on"))
        assert line == (f"web page on http://127.0.0.1:{net_box.web_port}/#token={net_box.remote.token} "
                        f"(the token is new, in {path})")
        assert net_box.request("POST", "/api/reset", token=net_box.remote.token)[0] == 200
    finally:
        net_box.close()


def test_a_port_in_use_is_an_error_naming_the_flag_and_the_address(tmp_path):
    first = NetBox(net_config(tmp_path))
    try:
        config = net_config(tmp_path / "second")
        config = dataclasses.replace(config, web=dataclasses.replace(config.web, listen=f"127.0.0.1:{first.web_port}"))
        controls = first.loop.controls
        with pytest.raises(OSError, match=f"--web 127.0.0.1:{first.web_port}: cannot listen there "
                                          r"\(Address already in use\)"):
            open_remote(config, None, first.box, 1, print, environ={})
        assert first.loop.controls is controls  # left as it was
    finally:
        first.close()
