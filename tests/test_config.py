"""Config file validation: clear errors naming file, line, field and reason."""

from __future__ import annotations

import pytest

from companion.host.config import Config, parse_config
from companion.core.errors import CompanionError
from command import companion


def test_defaults_and_valid_file():
    cfg = parse_config('engine = "pocketsphinx"\nrate = 170\ninput_device = 2\n')
    assert cfg.engine == "pocketsphinx" and cfg.rate == 170 and cfg.input_device == 2
    assert Config().engine == "auto"


@pytest.mark.parametrize("text,expected", [
    ('voise = "en-gb"\n', "config.toml:1: voise: unknown setting (did you mean 'voice'?)"),
    ('\nrate = "fast"\n', "config.toml:2: rate: Input should be a valid integer"),
    ('engine = "kaldi"\n', "config.toml:1: engine: Input should be 'auto', 'whisper', 'vosk' or"),
    ('volume = 3\n', "config.toml:1: volume: Input should be less than or equal to 1"),
    ('rate = \n', "config.toml: not valid TOML"),
])
def test_bad_files_name_line_field_and_reason(text, expected):
    with pytest.raises(CompanionError) as e:
        parse_config(text)
    assert expected in str(e.value)


def test_config_check_cli(tmp_path):
    import os

    env = {**os.environ, "COMPANION_CONFIG_DIR": str(tmp_path)}
    ok = companion("config", "check", env=env)
    assert ok.returncode == 0 and "ok:" in ok.stdout
    (tmp_path / "config.toml").write_text('rate = 150\noutput_device = "no such speaker xyz"\n')
    bad = companion("config", "check", env=env)
    assert bad.returncode != 0
    assert "output_device: no output device 'no such speaker xyz'" in bad.stderr
    assert "Traceback" not in bad.stderr
    (tmp_path / "config.toml").write_text("hold_step_s = 2\n")
    bad = companion("config", "check", env=env)
    assert bad.returncode != 0 and "config.toml:1: hold_step_s:" in bad.stderr
    shown = companion("config", "show", "--config", str(tmp_path / "nothing.toml"), env=env)
    assert shown.returncode == 0 and 'engine = "auto"' in shown.stdout


def test_config_show_says_what_each_setting_is_and_where_it_came_from(tmp_path):
    import os

    cfg = tmp_path / "config.toml"
    cfg.write_text('rate = 170\nvoice = "en-gb"\n')
    env = dict(os.environ, COMPANION_DATA_DIR=str(tmp_path / "from-env"))
    r = companion("config", "show", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stderr
    assert "# None" not in r.stdout
    blocks = {b.splitlines()[-1].split(" = ")[0]: b for b in r.stdout.split("\n\n")[1:]}
    assert set(blocks) == set(Config.model_fields)
    assert "Speaking rate in words per minute." in blocks["rate"]
    assert f"# from {cfg}\nrate = 170" in blocks["rate"]
    assert f"# from {cfg}\nvoice = \"en-gb\"" in blocks["voice"]
    assert "# from the default\nvolume = 1.0" in blocks["volume"]
    assert f"# from $COMPANION_DATA_DIR\ndata_dir = \"{tmp_path / 'from-env'}\"" in blocks["data_dir"]
    flag = companion("config", "show", "--config", str(cfg), "--data-dir", str(tmp_path / "f"),
                     env=env)
    assert f"# from --data-dir\ndata_dir = \"{tmp_path / 'f'}\"" in flag.stdout
