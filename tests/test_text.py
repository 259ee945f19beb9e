"""Text encoder: mode classes, pooling, caches, LoRA placement, lora vs lora-top equivalence, masking, model resolution.

Tiny randomly initialised models and tokenizers built here; the packaged MiniLM is the only real model.
Nothing touches the network (HF_HUB_OFFLINE=1, and sockets are blocked where a hub id is tried).
"""
from __future__ import annotations

import os
import socket

import pytest
import torch

from symcere_kit.errors import SymcereError
from symcere_kit.text import (
    DEFAULT_TEXT_MODEL,
    MODES,
    FrozenText,
    LoraSettings,
    LoraText,
    LoraTopText,
    TextEncoder,
    TextModelError,
    UnsupportedArchitectureError,
    auto_pooling,
    load_backbone,
    mask_words,
    pool,
    resolve_model,
    text_encoder_class,
    text_encoder_from_config,
    token_keep_mask,
)
from symcere_kit.text.resolve import packaged_model_dir

WORDS = ("a the guitar string strings bass drum tax law good bad sound great cheap pedal amp cable tuner "
         "works fine broke after two weeks love this").split()
TEXTS = [
    "a guitar string",
    "the bass drum sound great cheap pedal amp works fine",
    "tax law",
    "good",
    "cable tuner bad sound the a broke after two weeks",
    "love this amp",
]


def bert_tokenizer():
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def decoder_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = ["<pad>", "<unk>", "<s>", "</s>"] + WORDS
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny(family: str, seed: int = 0):
    """(model, tokenizer): 4 layers, hidden 32, random weights."""
    from transformers import BertConfig, BertModel, LlamaConfig, LlamaModel, Qwen2Config, Qwen2Model

    torch.manual_seed(seed)
    common = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=64)
    if family == "bert":
        return BertModel(BertConfig(vocab_size=40, **common)), bert_tokenizer()
    if family == "llama":
        return LlamaModel(LlamaConfig(vocab_size=40, num_key_value_heads=2, **common)), decoder_tokenizer()
    if family == "qwen2":
        return Qwen2Model(Qwen2Config(vocab_size=40, num_key_value_heads=2, **common)), decoder_tokenizer()
    raise ValueError(family)


def encoder(family="bert", tmp_path=None, mode="frozen", **kw):
    model, tok = tiny(family)
    return text_encoder_class(mode)(model, tok, cache_dir=tmp_path, **kw)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---------------------------------------------------------------- one class per mode
def test_factory_picks_the_class_of_each_mode_and_names_the_modes_otherwise():
    classes = {"frozen": FrozenText, "lora": LoraText, "lora-top": LoraTopText}
    assert MODES == tuple(classes)
    for mode, cls in classes.items():
        assert text_encoder_class(mode) is cls and issubclass(cls, TextEncoder)
        enc = encoder("bert", mode=mode)
        assert type(enc) is cls and enc.mode == mode == enc.settings()["mode"]
    for bad in ("sideways", "LoRA", None):
        with pytest.raises(SymcereError, match="frozen, lora, lora-top") as info:
            text_encoder_class(bad)
        assert repr(bad) in str(info.value)
    with pytest.raises(SymcereError, match="trains no LoRA"):
        encoder("bert", lora=LoraSettings())


def test_from_config_reads_any_settings_object_and_takes_the_mode_explicitly(tiny_bert_dir):
    from types import SimpleNamespace

    # no text_mode, no normalize, no lora_* fields (a baseline's settings): frozen, today's defaults
    bare = text_encoder_from_config(SimpleNamespace(text_model=str(tiny_bert_dir), max_length=32))
    assert type(bare) is FrozenText and (bare.normalize, bare.requested_pooling, bare.lora) == (True, "auto", None)
    cfg = SimpleNamespace(text_model=str(tiny_bert_dir), text_mode="lora", lora_rank=2, lora_top_layers=1)
    assert type(text_encoder_from_config(cfg, mode="frozen")) is FrozenText  # the argument wins
    assert text_encoder_from_config(cfg).lora == LoraSettings(rank=2, layers="all")
    assert text_encoder_from_config(cfg, mode="lora-top").lora == LoraSettings(rank=2, layers=1)


def test_for_training_frozen_keeps_two_matrices_lora_keeps_the_encoder(tmp_path):
    frozen = encoder("bert", tmp_path)
    corpus = frozen.for_training(TEXTS, 0.5, progress=False)
    assert corpus.kept_encoder is None and corpus.lora_parameters() == [] and not corpus.state_dict()
    rows = torch.tensor([4, 0, 2])
    assert torch.equal(corpus.embed(rows), frozen.encode(TEXTS, progress=False)[rows])
    view = frozen.encode(frozen.mask_words(TEXTS, 0.5, torch.Generator().manual_seed(0)), progress=False)
    assert torch.equal(corpus.embed(rows, mask_prob=0.5), view[rows])
    lora = encoder("bert", tmp_path, mode="lora")
    assert lora.for_training(TEXTS, 0.5, progress=False) is lora and lora.kept_encoder is lora


# ---------------------------------------------------------------- pooling and normalisation
def test_pooling_variants_on_known_states():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert torch.equal(pool(hidden, mask, "cls"), hidden[:, 0])
    assert torch.allclose(pool(hidden, mask, "mean"), torch.stack([hidden[0, :3].mean(0), hidden[1, :2].mean(0)]))
    assert torch.equal(pool(hidden, mask, "last"), torch.stack([hidden[0, 2], hidden[1, 1]]))
    # "last" is the last kept position even with holes in the mask (top-layer token dropping)
    holes = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 1]])
    assert torch.equal(pool(hidden, holes, "last"), torch.stack([hidden[0, 2], hidden[1, 3]]))
    with pytest.raises(ValueError):
        pool(hidden, mask, "max")


def test_auto_pooling_rule():
    from transformers import BertConfig, LlamaConfig

    assert auto_pooling(LlamaConfig()) == "last"
    assert auto_pooling(BertConfig(architectures=["BertForCausalLM"], is_decoder=True)) == "last"
    assert auto_pooling(BertConfig()) == "cls"
    assert auto_pooling(BertConfig(), "mean") == "mean"
    assert encoder("llama").pooling == "last"
    assert encoder("bert").pooling == "cls"


@pytest.mark.parametrize("normalize", [True, False])
def test_normalisation(tmp_path, normalize):
    enc = encoder("bert", tmp_path, pooling="mean", normalize=normalize)
    norms = enc.encode(TEXTS, progress=False, cache=False).norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5) is normalize


# ---------------------------------------------------------------- frozen encode and its cache
@pytest.mark.slow
@pytest.mark.parametrize("family", ["bert", "llama"])
def test_length_sorted_encode_keeps_input_order(tmp_path, family):
    enc = encoder(family, tmp_path)
    batched = enc.encode(TEXTS, batch_size=2, progress=False, cache=False)
    single = torch.cat([enc.encode([t], progress=False, cache=False) for t in TEXTS])
    assert batched.shape == (len(TEXTS), enc.out_dim)
    assert torch.allclose(batched, single, atol=1e-5)


@pytest.mark.slow
def test_frozen_cache_is_hit_the_second_time(tmp_path):
    enc = encoder("bert", tmp_path, mode="frozen")
    calls = []
    inner = enc.transformer.forward
    enc.transformer.forward = lambda *a, **k: calls.append(1) or inner(*a, **k)
    first = enc.encode(TEXTS, batch_size=4, progress=False)
    n_first = len(calls)
    assert n_first == 2
    files = list((tmp_path).glob("frozen-*.safetensors"))
    assert len(files) == 1
    again = enc.encode(TEXTS, batch_size=4, progress=False)
    assert len(calls) == n_first and torch.equal(first, again)
    # a fresh encoder over the same weights finds the file too; other texts or settings miss it
    other = FrozenText(enc.transformer, enc.tokenizer, cache_dir=tmp_path)
    assert torch.equal(other.encode(TEXTS, progress=False), first)
    enc.encode(TEXTS[:3], progress=False)
    assert len(calls) == n_first + 1
    FrozenText(enc.transformer, enc.tokenizer, cache_dir=tmp_path, pooling="mean").encode(TEXTS, progress=False)
    assert len(list(tmp_path.glob("frozen-*.safetensors"))) == 3


def test_frozen_cache_serves_the_unnormalised_ablation(tmp_path):
    enc = encoder("bert", tmp_path, mode="frozen")
    normed = enc.encode(TEXTS, progress=False)
    raw_enc = FrozenText(enc.transformer, enc.tokenizer, cache_dir=tmp_path, normalize=False)
    forward = raw_enc.transformer.forward
    raw_enc.transformer.forward = lambda *a, **k: pytest.fail("w/o Norm should reuse the cached file")
    raw = raw_enc.encode(TEXTS, progress=False)
    assert len(list(tmp_path.glob("frozen-*.safetensors"))) == 1
    assert not torch.allclose(raw.norm(dim=1), torch.ones(len(TEXTS)))
    assert torch.allclose(torch.nn.functional.normalize(raw, dim=-1), normed, atol=1e-6)
    raw_enc.transformer.forward = forward
    fresh = FrozenText(raw_enc.transformer, raw_enc.tokenizer, normalize=False).encode(
        TEXTS, progress=False, cache=False
    )
    assert torch.allclose(raw, fresh, atol=1e-5)


def test_killed_cache_write_leaves_no_file(tmp_path, monkeypatch):
    import safetensors.torch

    def dying_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 100)  # half a file, then the process "dies"
        raise RuntimeError("killed")

    monkeypatch.setattr(safetensors.torch, "save_file", dying_save)
    enc = encoder("bert", tmp_path)
    with pytest.raises(RuntimeError, match="killed"):
        enc.encode(TEXTS, progress=False)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- LoRA placement
def _lora_layer_indices(enc):
    from peft.tuners.lora import LoraLayer

    found = {}
    for name, module in enc.transformer.named_modules():
        if isinstance(module, LoraLayer):
            parts = name.split(".")
            idx = int(parts[parts.index("layer" if "layer" in parts else "layers") + 1])
            found.setdefault(idx, set()).add(parts[-1])
    return found


@pytest.mark.parametrize("family,targets", [("bert", {"query", "value"}), ("llama", {"q_proj", "v_proj"})])
def test_lora_only_on_requested_layers(family, targets):
    full = encoder(family, mode="lora")
    assert _lora_layer_indices(full) == {i: targets for i in range(4)}
    top = encoder(family, mode="lora-top", lora=LoraSettings(layers=2))
    assert _lora_layer_indices(top) == {2: targets, 3: targets}
    assert (top.n_bottom, top.top_layers) == (2, 2)
    trainable = [n for n, p in top.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert len(trainable) == 2 * 2 * 2  # 2 layers x 2 projections x (A, B)
    assert all(not p.requires_grad for n, p in top.named_parameters() if "lora_" not in n)
    frozen = encoder(family, mode="frozen")
    assert frozen.lora_parameters() == [] and _lora_layer_indices(frozen) == {}


def test_lora_settings_validation():
    with pytest.raises(SymcereError):
        LoraSettings(layers=0)
    with pytest.raises(SymcereError, match="4 layers"):
        encoder("bert", mode="lora", lora=LoraSettings(layers=5))
    with pytest.raises(SymcereError):
        encoder("bert", mode="sideways")


def test_lora_top_rejects_unsupported_architecture():
    from transformers import GPT2Config, GPT2Model

    model = GPT2Model(GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=40, n_positions=64))
    with pytest.raises(UnsupportedArchitectureError, match="lora"):
        LoraTopText(model, decoder_tokenizer())


# ---------------------------------------------------------------- lora == bottom cache + lora-top
@pytest.mark.slow
@pytest.mark.parametrize("family", ["bert", "llama", "qwen2"])
def test_lora_top_equals_full_forward_outputs_and_gradients(tmp_path, family):
    enc = encoder(family, tmp_path, mode="lora-top", lora=LoraSettings(layers=2, dropout=0.0))
    enc.eval()
    g = torch.Generator().manual_seed(1)
    for p in enc.lora_parameters():  # LoRA B starts at zero: randomise so every gradient is non-trivial
        p.data.normal_(0.0, 0.2, generator=g)
    weights = torch.randn(len(TEXTS), enc.out_dim, generator=g)

    full = enc(TEXTS)  # the whole model, as mode "lora" runs it
    (full * weights).sum().backward()
    grads_full = [p.grad.clone() for p in enc.lora_parameters()]
    enc.zero_grad()

    states = enc.bottom_states(TEXTS, batch_size=4, dtype=torch.float32, progress=False)
    hidden, mask = states.batch(torch.arange(len(TEXTS)))
    top = enc.forward_top(hidden, mask)
    (top * weights).sum().backward()
    grads_top = [p.grad.clone() for p in enc.lora_parameters()]

    assert torch.allclose(full, top, atol=1e-5, rtol=1e-4)
    assert all(gr.abs().max() > 1e-6 for gr in grads_full)
    for a, b in zip(grads_full, grads_top):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["lora", "lora-top"])
def test_chunked_embed_matches_one_batch_outputs_and_gradients(tmp_path, mode, monkeypatch):
    """Length-sorted, checkpointed micro-batches compute the whole batch's function: same outputs in the
    caller's order, same LoRA gradients."""
    import torch.utils.checkpoint as ckpt

    enc = encoder("bert", tmp_path, mode=mode, lora=LoraSettings(layers=2, dropout=0.0))
    enc.prepare(TEXTS, progress=False).eval()  # eval: no base-model dropout, so both paths are deterministic
    g = torch.Generator().manual_seed(1)
    for p in enc.lora_parameters():
        p.data.normal_(0.0, 0.2, generator=g)
    rows = [4, 0, 5, 2, 1, 3]
    weights = torch.randn(len(rows), enc.out_dim, generator=g)

    def run(chunk):
        enc.zero_grad()
        out = enc.embed(rows, chunk_size=chunk)
        (out * weights).sum().backward()
        return out.detach(), [p.grad.clone() for p in enc.lora_parameters()]

    whole, grads_whole = run(0)
    calls = []
    original = ckpt.checkpoint
    monkeypatch.setattr(ckpt, "checkpoint", lambda *a, **k: calls.append(1) or original(*a, **k))
    chunked, grads_chunked = run(2)
    assert len(calls) == (3 if mode == "lora" else 0)  # lora: 6 texts in chunks of 2, each checkpointed
    assert torch.allclose(whole, chunked, atol=1e-5, rtol=1e-4)
    assert all(gr.abs().max() > 1e-6 for gr in grads_whole)
    for a, b in zip(grads_whole, grads_chunked):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_bottom_states_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    enc = encoder("bert", tmp_path, mode="lora-top", lora=LoraSettings(layers=1))
    s16 = enc.bottom_states(TEXTS, progress=False)
    assert s16.states.dtype == torch.float16 and enc.bottom_states(TEXTS, progress=False) is s16
    assert s16.states.shape[0] == sum(len(x) for x in enc.tokenize(TEXTS))  # ragged: no padding stored
    s32 = enc.bottom_states(TEXTS, progress=False, dtype=torch.float32)
    assert s16.nbytes * 2 == s32.nbytes
    assert torch.allclose(s16.states.float(), s32.states, atol=1e-2)
    fresh = LoraTopText(*tiny("bert"), lora=LoraSettings(layers=1), cache_dir=tmp_path)
    monkeypatch.setattr(fresh, "_compute_bottom", lambda *a, **k: pytest.fail("disk cache missed"))
    assert torch.equal(fresh.bottom_states(TEXTS, progress=False).states, s16.states)


@pytest.mark.slow
def test_high_level_embed_in_every_mode(tmp_path):
    for mode in ("frozen", "lora", "lora-top"):
        enc = encoder("bert", tmp_path, mode=mode, lora=LoraSettings(layers=2) if mode == "lora-top" else None)
        enc.prepare(TEXTS, progress=False).train()
        t = enc.embed([0, 2, 4])
        v1 = enc.embed([0, 2, 4], mask_prob=0.5, generator=torch.Generator().manual_seed(3))
        assert t.shape == v1.shape == (3, enc.out_dim)
        assert t.requires_grad is (mode != "frozen")
        enc.eval()
        v2 = enc.embed([0, 2, 4], mask_prob=0.5, generator=torch.Generator().manual_seed(3))
        v3 = enc.embed([0, 2, 4], mask_prob=0.5, generator=torch.Generator().manual_seed(3))
        assert torch.equal(v2, v3)


# ---------------------------------------------------------------- masking
def test_mask_words_deterministic_and_rate():
    texts = [" ".join(WORDS)] * 50
    a = mask_words(texts, 0.3, torch.Generator().manual_seed(0))
    b = mask_words(texts, 0.3, torch.Generator().manual_seed(0))
    c = mask_words(texts, 0.3, torch.Generator().manual_seed(1))
    assert a == b and a != c
    masked = sum(w == "[MASK]" for t in a for w in t.split())
    assert abs(masked / (50 * len(WORDS)) - 0.3) < 0.05
    assert all(len(t.split()) == len(WORDS) for t in a)  # whole words -> one mask each
    removed = mask_words(texts, 0.3, torch.Generator().manual_seed(0), mask_token=None)
    assert [len(t.split()) for t in removed] == [len(WORDS) - t.split().count("[MASK]") for t in a]
    one, empty, two = mask_words(["one", "", "two words"], 1.0, torch.Generator().manual_seed(0))
    assert (one, empty) == ("one", "") and sorted(two.split()).count("[MASK]") == 1  # never every word


def test_token_keep_mask_deterministic_rate_and_protection():
    mask = torch.ones(200, 50, dtype=torch.long)
    mask[::2, 30:] = 0  # right padding on half the rows
    a = token_keep_mask(mask, 0.7, torch.Generator().manual_seed(0))
    b = token_keep_mask(mask, 0.7, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, token_keep_mask(mask, 0.7, torch.Generator().manual_seed(1)))
    assert bool(((a == 1) <= (mask == 1)).all())  # padding stays padding
    inner = mask.clone()
    inner[:, 0] = 0
    inner[::2, 29] = 0
    inner[1::2, 49] = 0
    rate = (a * inner).sum() / inner.sum()
    assert abs(float(rate) - 0.7) < 0.02
    assert bool((a[:, 0] == 1).all()) and bool((a[::2, 29] == 1).all()) and bool((a[1::2, 49] == 1).all())
    none = token_keep_mask(mask, 0.0, torch.Generator().manual_seed(0))
    assert bool((none.sum(1) >= 1).all())


def test_lora_top_masked_view_drops_tokens_only_at_the_top(tmp_path):
    enc = encoder("llama", tmp_path, mode="lora-top", lora=LoraSettings(layers=1))
    enc.eval()
    states = enc.bottom_states(TEXTS, progress=False, dtype=torch.float32)
    hidden, mask = states.batch(range(len(TEXTS)))
    plain = enc.forward_top(hidden, mask)
    assert torch.equal(enc.forward_top(hidden, mask, keep_prob=1.0), plain)
    v = enc.forward_top(hidden, mask, keep_prob=0.5, generator=torch.Generator().manual_seed(0))
    w = enc.forward_top(hidden, mask, keep_prob=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(v, w) and not torch.allclose(v, plain) and torch.isfinite(v).all()


# ---------------------------------------------------------------- model resolution
def test_resolve_model_default_local_and_hub_id(tmp_path):
    default = packaged_model_dir()
    assert resolve_model(None) == resolve_model(DEFAULT_TEXT_MODEL) == str(default)
    assert (default / "config.json").is_file()
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model("hyp1231/blair-roberta-base") == "hyp1231/blair-roberta-base"
    with pytest.raises(TextModelError, match="does not exist"):
        resolve_model(str(tmp_path / "missing" / "model"))


def test_uncached_hub_id_fails_offline_with_a_clear_message(no_network):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(TextModelError) as info:
        load_backbone("symcere-test/no-such-model-anywhere")
    msg = str(info.value)
    assert "symcere-test/no-such-model-anywhere" in msg and "not in the local Hugging Face cache" in msg
    assert "HF_HUB_OFFLINE" in msg and "huggingface-cli download" in msg and "pass its path" in msg
    assert DEFAULT_TEXT_MODEL in msg


def test_minilm_default_embeds_sentences_sensibly(tmp_path, no_network):
    enc = FrozenText.from_pretrained(None, cache_dir=tmp_path)
    assert enc.pooling == "mean" and enc.out_dim == 384 and enc.n_layers == 6
    e = enc.encode(["a guitar string", "guitar strings", "tax law"], progress=False)
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])
    assert enc.base_identity["model"] == DEFAULT_TEXT_MODEL


def test_adapter_round_trip(tmp_path):
    enc = encoder("bert", tmp_path, mode="lora", lora=LoraSettings(layers=2))
    for p in enc.lora_parameters():
        p.data.normal_()
    enc.save_adapter(tmp_path / "adapter.safetensors")
    other = encoder("bert", tmp_path, mode="lora", lora=LoraSettings(layers=2))
    other.load_adapter(tmp_path / "adapter.safetensors")
    enc.eval(), other.eval()
    assert torch.allclose(enc(TEXTS), other(TEXTS), atol=1e-6)
    with pytest.raises(SymcereError, match="LoRA settings"):
        encoder("bert", tmp_path, mode="lora").load_adapter(tmp_path / "adapter.safetensors")


def test_from_config_builds_lora_top_minilm(tmp_path):
    from types import SimpleNamespace

    cfg = SimpleNamespace(text_model=None, text_mode="lora-top", pooling="auto", max_length=64, normalize=True,
                          lora_rank=4, lora_alpha=8, lora_dropout=0.0, lora_top_layers=1, trust_remote_code=False)
    enc = text_encoder_from_config(cfg, cache_dir=tmp_path)
    assert (enc.mode, enc.pooling, enc.max_length, enc.n_bottom, enc.top_layers) == ("lora-top", "mean", 64, 5, 1)
    assert enc.lora == LoraSettings(rank=4, alpha=8, dropout=0.0, layers=1)
    assert len(enc.lora_parameters()) == 4
