"""SymCERE (paper section 3): a graph encoder and a text encoder aligned on the unit hypersphere.

Per batch of training interactions (u, v) with their reviews r_uv:
  g_uv = (g_u + g_v) / 2 from the graph encoder (eq. 1), t_uv = f_text(r_uv) projected to the
  graph's width, both L2-normalised (eq. 2), then
  L = cross_weight * L_cross (symmetric NCE without in-batch false negatives, eqs. 3-5)
      + alpha * (InfoNCE(g, g') + InfoNCE(t, t'))   (eq. 6: edge-dropout and word-masking views)
      + beta * BPR on the normalised graph embeddings (eq. 7) + lambda * L2 (eq. 8).
``cross_weight`` is 1 in the paper; at 0 the cross term is not computed at all (no false-negative
mask), which with ``alpha=0`` leaves a graph baseline (the nested controls of ``runs/variants.py``).
Eq. 7 sums BPR over the batch where eq. 4 averages (``bpr_reduction="sum"``, the default): with
beta 0.05 and batch 2048 ranking carries ~100x a batch-mean term. Taken as a mean instead, the
cross-modal term dominates and ranking falls below MostPop on Musical Instruments.
Ranking scores come from the graph embeddings alone (cosine when normalised): a test-time review
does not exist yet.

Ablations: ``normalize=False`` ("w/o Norm") uses raw vectors everywhere; ``fn_mask=False``
("InfoNCE w/ Norm") keeps every in-batch negative.

Readings. Where the paper can be read more than one way, a setting names each reading (``READINGS``
lists them and their values; the first value is the default unless noted):

* ``bpr_space`` ("cosine" | "dot"): eq. 7 writes BPR on the hatted, i.e. L2-normalised (eq. 2),
  graph embeddings and section 3.2.1 normalises "all embeddings before loss calculation": "cosine"
  takes that literally for BPR and for the ranking scores. "dot" keeps the backbone's raw dot products
  for BPR and scoring and normalises only for the contrastive terms, as RLMRec (Ren et al., WWW 2024)
  adds its alignment term to an unchanged backbone. ``normalize=False`` means raw vectors everywhere
  whatever this says.
* ``intra_level`` ("interaction" | "node"): eq. 6 writes InfoNCE(g, g') on the paper's only g of the
  losses, the interaction g_uv (default "interaction"); "node" contrasts nodes as SGL (Wu et al. 2021,
  eq. 10), whose edge-dropout views eq. 6 borrows, does: the batch's unique users, and its unique
  positive items, each against every node of the other view (``losses.node_info_nce``, the function
  our SGL uses, averaged here like the other terms). The text view stays per interaction.
* ``word_mask_draw`` ("fixed" | "epoch" | "step"; default "auto"): eq. 6 says "word masking" and not
  when the mask is drawn. "auto" keeps each text mode's behaviour: the frozen mode's "fixed" (one
  masked copy of the reviews drawn once with seed 0 and cached, so runs of every seed share it) and the
  LoRA modes' "step" (a fresh draw for each batch from the run's generator: whole words in ``lora``,
  tokens at the top layers' input in ``lora-top``, see ``text.masking``). "epoch" (frozen mode only) draws
  a fresh masked copy each epoch from the run's generator and re-encodes it, a full pass of the
  transformer over the reviews every epoch (slow: about the one-off encoding's time per epoch). The
  LoRA modes take "step" only and the frozen mode "fixed" or "epoch"; other pairs are an error.
* ``t2g_mask`` ("same" | "transpose"): eq. 3 defines the false negatives N_i for G->T only, and eq. 5
  gets T->G by "swapping the roles of anchor and positive" (see ``losses.symmetric_nce_loss``).
* ``bpr_reduction`` ("sum" | "mean"): eq. 7 sums BPR over the batch while eq. 4 averages (above).

``loop_from="backbone"`` (not a reading: a recipe switch) takes the loop defaults (epochs, lr, batch)
of the backbone's baseline instead of SymCERE's own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..config import Choice, Range
from ..errors import SymcereError
from ..graph.augment import edge_dropout_adjacency
from ..losses import bpr_loss, false_negative_mask, info_nce_loss, node_info_nce, symmetric_nce_loss
from ..recommender.base import Recommender
from ..recommender.graph_bpr import RECBOLE_LR, GraphSettings, NGCFLayerSettings, batch_ego_l2
from ..recommender.text_side import TextSide
from ..rng import side_stream
from ..text.settings import TextTrainingSettings
from .lightgcn import LightGCN
from .ngcf import NGCF

_BACKBONES = {"lightgcn": LightGCN, "ngcf": NGCF}
PAPER = "the SymCERE paper (below eq. 8)"
# The paper's ambiguous readings as settings (module docstring), each with its values, default first.
READINGS: dict[str, tuple[str, ...]] = {
    "bpr_space": ("cosine", "dot"),
    "intra_level": ("interaction", "node"),
    "word_mask_draw": ("fixed", "epoch", "step"),  # default "auto": fixed in frozen mode, step in the LoRA modes
    "t2g_mask": ("same", "transpose"),
    "bpr_reduction": ("sum", "mean"),
}
_MASK_DRAWS = {"frozen": ("fixed", "epoch"), "lora": ("step",), "lora-top": ("step",)}


@dataclass(frozen=True)
class SymCERESettings(TextTrainingSettings, GraphSettings, NGCFLayerSettings):
    """Eq. (8): L = cross + alpha * intra + beta * BPR + reg_weight * L2, on a LightGCN or NGCF backbone.

    ``n_layers`` stays 2 with either backbone (the NGCF baseline uses 3); ``message_dropout`` is used
    by the NGCF backbone only."""

    backbone: str = "lightgcn"  # graph encoder: lightgcn | ngcf (the paper reports both); message_dropout: ngcf only
    # Temperature of the cross- and intra-modal NCE terms (the paper does not state it). Chosen on the
    # validation slice of Musical Instruments with sum-BPR (frozen MiniLM, LightGCN, seed 0), NDCG@10
    # at 60/80 epochs: tau 0.05 .0638/.0633, 0.07 .0655/.0652, 0.1 .0652/.0664, 0.2 .0674/.0676, 0.5 .0624/.0628.
    tau: float = 0.2
    alpha: float = 0.5  # intra-modal InfoNCE weight (paper, below eq. 8)
    beta: float = 0.05  # BPR weight (paper, below eq. 8)
    cross_weight: float = 1.0  # weight of L_cross in eq. (8) (the paper's 1); 0: not computed at all
    # A reading (eq. 7 vs eq. 4): eq. (7) SUMS BPR over the batch while eq. (4) averages the NCE terms, so
    # with beta 0.05 and batch 2048 BPR weighs ~100x a batch-mean term. "mean" gives the per-interaction weighting.
    bpr_reduction: str = "sum"
    normalize: bool = True  # False: the "w/o Norm" ablation (paper Table 3): raw vectors everywhere
    fn_mask: bool = True  # False: the "InfoNCE w/ Norm" ablation (no false-negative removal, eq. 3)
    # A reading (eq. 5 "swapping the roles", N_i defined for G->T only by eq. 3): the text->graph
    # denominator drops the G->T mask's candidates ("same") or its transpose's.
    t2g_mask: str = "same"
    # A reading (eq. 7's hats vs RLMRec's raw backbone): BPR and ranking scores on the L2-normalised graph
    # embeddings ("cosine") or on raw dot products ("dot"; the contrastive terms still normalise).
    bpr_space: str = "cosine"
    # A reading (eq. 6's g vs SGL's nodes): graph InfoNCE between the interaction vectors g_uv and g'_uv
    # ("interaction") or SGL's over the batch's unique users and unique items ("node").
    intra_level: str = "interaction"
    # A reading (eq. 6 "word masking", no schedule): when the text view t' is drawn. "auto": the text mode's
    # own ("fixed" frozen, "step" LoRA); "epoch": frozen only, re-encodes every epoch (slow). Module docstring.
    word_mask_draw: str = "auto"
    edge_dropout: float = 0.1  # graph view g' of eq. (6): edge dropout rate (SGL-ED's 0.1)
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"tau"})
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"alpha", "beta", "edge_dropout", "cross_weight"})
    # Loop defaults: SymCERE's own ("symcere", below) or those of the backbone's baseline ("backbone":
    # LightGCN's 30 epochs, NGCF's 100, both lr 0.005 and batch 2048), for controls on the baseline's recipe.
    loop_from: str = "symcere"
    # 60 epochs: the validation-slice runs above peaked at 60-80.
    LOOP: ClassVar[dict] = {"epochs": 60}
    # The LoRA modes run the transformer every step (~275 s per Musical Instruments epoch for lora-top
    # on 2 CPU cores), so they get an epoch budget: 5 epochs fit 30 minutes, and a smaller batch with a
    # larger lr converged furthest in that budget (frozen-mode proxy on the validation slice).
    TEXT_MODE_LOOP: ClassVar[dict] = {"lora-top": {"epochs": 5, "batch_size": 512, "lr": 0.01},
                                      "lora": {"epochs": 5, "batch_size": 512, "lr": 0.01}}
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": RECBOLE_LR,
        "tau": Range(0.05, 1.0, log=True, source="the validation-slice sweep above (0.05 .. 0.5), widened to 1.0"),
        "alpha": Range(0.05, 1.0, log=True, source="one decade below " + PAPER + "'s alpha 0.5, up to 1"),
        "beta": Range(0.005, 0.5, log=True, source="one decade either side of " + PAPER + "'s beta 0.05"),
        "reg_weight": Range(1e-5, 1e-2, log=True, source="RecBole 1.2.1 docs, LightGCN reg_weight 1e-5 .. 1e-2"),
        "bpr_reduction": Choice(("sum", "mean"), source="eq. (7) literally (sum) or per interaction (mean)"),
        # Searched by the nested controls only (``runs.variants``); SymCERE itself keeps the paper's 1.
        "cross_weight": Range(1e-4, 1.0, log=True, source="two decades either side of 1/(beta*B) ~ 0.01, the weight "
                              "eq. (8) gives L_cross per interaction next to a summed BPR (beta 0.05, B 2048)"),
    }

    def __post_init__(self):
        super().__post_init__()
        for name, value, allowed in (
            ("backbone", self.backbone, tuple(_BACKBONES)),
            *((name, getattr(self, name), values) for name, values in READINGS.items() if name != "word_mask_draw"),
            ("word_mask_draw", self.word_mask_draw, ("auto", *READINGS["word_mask_draw"])),
            ("loop_from", self.loop_from, ("symcere", "backbone")),
        ):
            if value not in allowed:
                raise SymcereError(f"SymCERE {name} must be one of {', '.join(allowed)}; got {value!r}.")
        draws = _MASK_DRAWS[self.text_mode]
        if self.word_mask_draw != "auto" and self.word_mask_draw not in draws:
            why = ("keeps no transformer during training, so it cannot draw a fresh mask per step"
                   if self.text_mode == "frozen" else
                   "runs the transformer every step and draws a fresh word mask for each batch; a fixed or "
                   "per-epoch draw is not implemented there")
            raise SymcereError(f"SymCERE word_mask_draw={self.word_mask_draw!r} does not go with text mode "
                               f"{self.text_mode!r}, which {why}; use {' or '.join(draws)} (or auto).")
        if self.intra_level == "node" and not self.normalize:
            raise SymcereError("SymCERE intra_level='node' is SGL's contrast of cosine similarities, which the "
                               "w/o Norm ablation (normalize=False) has none of; use intra_level='interaction' there.")

    @property
    def mask_draw(self) -> str:
        """``word_mask_draw`` with "auto" resolved: "fixed" in frozen mode, "step" in the LoRA modes."""
        return _MASK_DRAWS[self.text_mode][0] if self.word_mask_draw == "auto" else self.word_mask_draw

    def keeps_own_loop(self) -> bool:
        """The LoRA modes keep their epoch budget (``TEXT_MODE_LOOP``) over tuned loop settings: tuning ran
        the frozen encoder, whose epochs say nothing about a LoRA run's."""
        return self.text_mode in self.TEXT_MODE_LOOP

    def loop_defaults(self) -> dict:
        """SymCERE's loop (``LOOP``, then its text mode's ``TEXT_MODE_LOOP``), or with ``loop_from="backbone"``
        exactly the backbone baseline's."""
        if self.loop_from == "backbone":  # exactly the baseline's, its text mode's budget notwithstanding
            return _BACKBONES[self.backbone].Settings().loop_defaults()
        return {**self.LOOP, **self.TEXT_MODE_LOOP.get(self.text_mode, {})}


def build_graph_encoder(backbone: str, dataset, settings):
    """The same encoder the LightGCN/NGCF baselines train; its ``out_dim`` sizes the text projection."""
    return _BACKBONES[backbone].build_encoder(dataset, settings)


class SymCERE(Recommender):
    """SymCERE (paper section 3): a LightGCN or NGCF graph encoder aligned with a text encoder of the training
    reviews; ranking scores come from the graph embeddings alone."""

    Settings = SymCERESettings

    def __init__(self, dataset, settings: SymCERESettings, progress: bool = True):
        super().__init__(dataset, settings)
        self.dataset = dataset
        self.graph = build_graph_encoder(settings.backbone, dataset, settings)
        # The text side draws on RNGs of its own (``rng.side_stream``): the graph then trains on the very
        # stream its baseline sees (NGCF's dropout included), and the text side is the same for a seed
        # whatever the graph drew before it.
        with side_stream("symcere.text_side"):
            self.text = TextSide(dataset, settings, out_dim=self.graph.out_dim, progress=progress)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self.view_adj: torch.Tensor | None = None

    def param_groups(self) -> list[dict]:
        """Every trainable parameter but the text encoder's LoRA ones in one group; those (if any) at ``text_lr``."""
        text = self.text.lora_parameters()
        ids = {id(p) for p in text}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": rest}] + ([{"params": text, "lr": self.settings.text_lr}] if text else [])

    def on_epoch_start(self, generator: torch.Generator) -> None:
        """A fresh edge-dropout view of the training graph each epoch (SGL's schedule), and with
        ``word_mask_draw="epoch"`` a fresh word-masked text view; both only when eq. 6 is on (alpha > 0)."""
        cfg = self.settings
        self.text.on_epoch_start(generator)
        if cfg.alpha > 0 and cfg.edge_dropout > 0:
            view = edge_dropout_adjacency(self.dataset.train_csr, cfg.edge_dropout, generator)
            self.view_adj = view.to(self.adj.device)
        if cfg.alpha > 0 and cfg.mask_draw == "epoch" and cfg.word_mask > 0:
            self.text.redraw_view(generator)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.settings.normalize else x

    def _rank_space(self, x: torch.Tensor) -> torch.Tensor:
        """The space of BPR and of the ranking scores: normalised unless ``bpr_space="dot"`` or w/o Norm."""
        return self._norm(x) if self.settings.bpr_space == "cosine" else x

    def batch_loss(self, batch):
        """Eq. 8: ``cross_weight`` x L_cross (eqs. 3-5) + ``alpha`` x InfoNCE of both views (eq. 6) + ``beta`` x BPR
        (eq. 7) + ``reg_weight`` x L2; the cross and intra terms are skipped at weight 0."""
        cfg, self._cache = self.settings, None
        users, items = self.graph(self.adj)
        u, pos, neg = batch["user"], batch["pos"], batch["neg"]
        # index_select, not users[u]: its backward is deterministic on multi-threaded CPU (see graph_bpr)
        eu, ep, en = users.index_select(0, u), items.index_select(0, pos), items.index_select(0, neg)
        terms, loss, g, t = {}, 0.0, None, None  # 0.0 + x is x exactly: a term left out changes no bit
        if cfg.cross_weight > 0:
            g = self._norm((eu + ep) / 2)
            t = self._norm(self.text(batch["index"]))
            mask = false_negative_mask(u, pos, self.dataset) if cfg.fn_mask else None
            cross = symmetric_nce_loss(g, t, cfg.tau, mask, cfg.t2g_mask)
            terms["cross"] = cross
            loss = loss + cfg.cross_weight * cross
        if cfg.alpha > 0:
            view_users, view_items = self.graph(self.view_adj if self.view_adj is not None else self.adj)
            if cfg.intra_level == "interaction":
                g = self._norm((eu + ep) / 2) if g is None else g
                g_view = self._norm((view_users.index_select(0, u) + view_items.index_select(0, pos)) / 2)
                graph_intra = info_nce_loss(g, g_view, cfg.tau)
            else:  # SGL's node level: unique users, unique positive items, every node of the view as negatives
                graph_intra = (node_info_nce(users, view_users, u.unique(), cfg.tau, "mean")
                               + node_info_nce(items, view_items, pos.unique(), cfg.tau, "mean"))
            t = self._norm(self.text(batch["index"])) if t is None else t
            t_view = self._norm(self.text.masked(batch["index"]))
            intra = graph_intra + info_nce_loss(t, t_view, cfg.tau)
            terms["intra"] = intra
            loss = loss + cfg.alpha * intra
        eu, ep, en = self._rank_space(eu), self._rank_space(ep), self._rank_space(en)
        bpr = bpr_loss((eu * ep).sum(-1), (eu * en).sum(-1), cfg.bpr_reduction)
        reg = batch_ego_l2(self.graph.embedding.weight, self.n_users, batch)
        loss = loss + cfg.beta * bpr + cfg.reg_weight * reg
        return {"loss": loss, **terms, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def prepare_scoring(self):
        """Cache the full graph's (user, item) embeddings in the ranking space: normalised unless
        ``bpr_space="dot"`` or ``normalize=False``."""
        users, items = self.graph(self.adj)
        self._cache = (self._rank_space(users), self._rank_space(items))


MODEL = SymCERE
