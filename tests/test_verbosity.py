"""Other libraries' output while models load: hidden unless asked, and their settings left as found."""
from __future__ import annotations

import importlib
import logging
import threading

import pytest

from symcere_kit.verbosity import VERBOSE_ENV, quiet_libraries, wants_verbose

tf_logging = pytest.importorskip("transformers.utils.logging")
hub_logging = importlib.import_module("huggingface_hub.utils.logging")
hub_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")


@pytest.fixture
def libraries_as_a_user_set_them():
    """Non-default settings, as a user's own code might choose; put back to what they were afterwards."""
    before = (tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled(), hub_logging.get_verbosity(),
              dict(hub_tqdm.progress_bar_states), logging.getLogger("peft").level)
    tf_logging.enable_progress_bar()
    tf_logging.set_verbosity_info()
    hub_logging.set_verbosity_warning()
    hub_tqdm.progress_bar_states.update({"_global": True, "huggingface_hub.some_group": False})
    logging.getLogger("peft").setLevel(logging.DEBUG)
    user = (logging.INFO, True, logging.WARNING, {"_global": True, "huggingface_hub.some_group": False}, logging.DEBUG)
    yield user
    tf_logging.set_verbosity(before[0])
    (tf_logging.enable_progress_bar if before[1] else tf_logging.disable_progress_bar)()
    hub_logging.set_verbosity(before[2])
    hub_tqdm.progress_bar_states.clear()
    hub_tqdm.progress_bar_states.update(before[3])
    logging.getLogger("peft").setLevel(before[4])


def _settings():
    return (tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled(), hub_logging.get_verbosity(),
            dict(hub_tqdm.progress_bar_states), logging.getLogger("peft").level)


def test_quiet_block_silences_then_restores_the_users_settings_even_after_an_error(libraries_as_a_user_set_them):
    user = libraries_as_a_user_set_them
    assert _settings() == user
    with pytest.raises(RuntimeError):
        with quiet_libraries(False) as loud:
            assert loud is False
            assert tf_logging.get_verbosity() == logging.ERROR and hub_logging.get_verbosity() == logging.ERROR
            assert not tf_logging.is_progress_bar_enabled() and hub_tqdm.are_progress_bars_disabled()
            assert logging.getLogger("peft").level == logging.ERROR
            raise RuntimeError("a failed load")
    assert _settings() == user


def test_verbose_block_changes_nothing(libraries_as_a_user_set_them):
    with quiet_libraries(True) as loud:
        assert loud is True and _settings() == libraries_as_a_user_set_them
    assert _settings() == libraries_as_a_user_set_them


def test_who_decides_explicit_then_enclosing_block_then_environment(monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    assert wants_verbose() is False and wants_verbose(True) is True
    monkeypatch.setenv(VERBOSE_ENV, "1")
    assert wants_verbose() is True and wants_verbose(False) is False
    with quiet_libraries(False):
        assert wants_verbose() is False  # calls inside inherit the block's choice over the environment
    monkeypatch.setenv(VERBOSE_ENV, "0")
    with quiet_libraries(True):
        assert wants_verbose() is True
    assert wants_verbose() is False


def test_overlapping_blocks_in_two_threads_restore_only_when_the_last_one_leaves(libraries_as_a_user_set_them):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with quiet_libraries(False):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with quiet_libraries(False):
            second_in.set()
            first_out.wait(10)
            seen["bars while the second still loads"] = tf_logging.is_progress_bar_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"bars while the second still loads": False}
    assert _settings() == libraries_as_a_user_set_them


@pytest.mark.slow
def test_loading_the_packaged_encoder_prints_no_loading_bars_unless_verbose(capfd, monkeypatch):
    """transformers draws "Loading weights" for the packaged MiniLM: hidden by default, shown when asked."""
    from symcere_kit.text import load_backbone

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    if not tf_logging.is_progress_bar_enabled():
        pytest.skip("transformers' progress bars are off in this process (HF_HUB_DISABLE_PROGRESS_BARS)")
    load_backbone(None)
    out, err = capfd.readouterr()
    assert "Loading weights" not in out + err
    load_backbone(None, verbose=True)
    out, err = capfd.readouterr()
    assert "Loading weights" in err
    assert tf_logging.is_progress_bar_enabled()  # the quiet load left the switch as it found it


def test_a_lora_encoder_loads_silently_from_a_local_folder(tiny_bert_dir, capfd, monkeypatch):
    """The other entry point (mode class from_pretrained: load, then peft's LoRA injection), on a local model."""
    from symcere_kit.text import LoraSettings, LoraText

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    LoraText.from_pretrained(str(tiny_bert_dir), lora=LoraSettings(layers=1))
    out, err = capfd.readouterr()
    assert "Loading weights" not in out + err and not err.strip(), err
