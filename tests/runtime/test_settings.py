"""Settings read once at start: values that cannot be used stop the start (exit 2)."""

import pytest
from mlfn_runtime.settings import Settings, SettingsError


@pytest.mark.parametrize("raw", [" , ,", ",", "   ", " ,\t, "])
def test_api_keys_that_name_no_key_stop_the_start(raw):
    with pytest.raises(SettingsError, match="holds no usable API key; refusing to start"):
        Settings.from_env({"MLFN_API_KEYS": raw})


def test_api_keys_parse_and_unset_means_no_auth():
    assert Settings.from_env({"MLFN_API_KEYS": " k1 , ,k2 "}).api_keys == ("k1", "k2")
    assert Settings.from_env({"MLFN_API_KEYS": ""}).api_keys == ()
    assert Settings.from_env({}).api_keys == ()


def test_empty_aws_secret_stops_the_start(monkeypatch):
    import mlfn_runtime.settings as settings_module

    for secret in ("", " , "):
        monkeypatch.setattr(settings_module, "_aws_secret", lambda arn, secret=secret: secret)
        with pytest.raises(SettingsError, match="MLFN_API_KEYS_AWS_SECRET is set but holds no usable API key"):
            Settings.from_env({"MLFN_API_KEYS_AWS_SECRET": "arn:aws:secretsmanager:x"})
