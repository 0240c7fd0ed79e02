"""A SASRec-style causal transformer whose item vectors are a learned ID embedding plus projected MiniLM text."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

PAD = 0  # sequence index 0 is padding; catalog item i is token i + 1


@dataclass(frozen=True)
class NetConfig:
    """Architecture; saved in the checkpoint's config.json."""

    n_items: int                # catalog size the ID table was trained on
    text_dim: int = 384         # MiniLM width; 0 = ID-only (the SASRec baseline)
    d_model: int = 64           # BASELINES' SASRec width; wider overfits 34k training positions
    n_layers: int = 2
    n_heads: int = 2
    max_len: int = 50           # the dataset caps histories at 50
    dropout: float = 0.5        # heavy dropout: sequences are short (mean 7) and data is small
    id_dropout: float = 0.1     # share of ID vectors zeroed per batch so the text path alone can rank cold items
    pos_init_std: float | None = 0.02  # RecBole's init, the scale of the ID vectors (see InterestNet.__init__);
    # None = torch's N(0, 1), which the format-1 text model was trained with (valid R@10 0.110 vs 0.133 with 0.02)

    def to_dict(self) -> dict:
        return asdict(self)


class InterestNet(nn.Module):
    """Maps left-padded item-token sequences to hidden states scored against every catalog item."""

    def __init__(self, cfg: NetConfig, text_vectors: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.id_emb = nn.Embedding(cfg.n_items + 1, d, padding_idx=PAD)
        nn.init.normal_(self.id_emb.weight, std=0.02)
        with torch.no_grad():
            self.id_emb.weight[PAD].zero_()
        self.text_proj = nn.Linear(cfg.text_dim, d, bias=False) if cfg.text_dim else None
        # text: (n_items + 1, text_dim) frozen MiniLM vectors, row 0 zero; kept out of the state dict (recomputable)
        if cfg.text_dim:
            assert text_vectors is not None and text_vectors.shape == (cfg.n_items, cfg.text_dim)
            text = torch.cat([torch.zeros(1, cfg.text_dim), text_vectors.float()])
        else:
            text = torch.zeros(cfg.n_items + 1, 0)
        self.register_buffer("text", text, persistent=False)
        self.pos_emb = nn.Embedding(cfg.max_len, d)
        if cfg.pos_init_std is not None:
            # N(0, 1) positions are ~50x the 0.02 ID vectors at emb_norm's input: an ID-only net then sees almost no
            # item signal and sits at popularity level (valid R@10 0.035 after 6 epochs; 0.114 with 0.02); the
            # text model learned despite it but worse (valid R@10 0.110 at epoch 29; 0.133 at epoch 7 with 0.02)
            nn.init.normal_(self.pos_emb.weight, std=cfg.pos_init_std)
        self.emb_norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, dim_feedforward=2 * d, dropout=cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)

    def item_table(self) -> torch.Tensor:
        """(n_items + 1, d) item vectors used both as input tokens and as output weights (tied)."""
        table = self.id_emb.weight
        if self.training and self.cfg.id_dropout:
            keep = (torch.rand(table.shape[0], 1, device=table.device) >= self.cfg.id_dropout).float()
            table = table * keep
        if self.text_proj is not None:
            table = table + self.text_proj(self.text)
        return table

    def encode(self, seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """seq (b, L) left-padded tokens -> hidden states (b, L, d); position L-1 is the newest item."""
        table = self.item_table() if table is None else table
        b, length = seq.shape
        pos = torch.arange(length - 1, -1, -1, device=seq.device).clamp(max=self.cfg.max_len - 1)  # newest = 0
        x = table[seq] + self.pos_emb(pos)[None]                                      # (b, L, d)
        x = self.drop(self.emb_norm(x))
        pad = seq == PAD                                                              # (b, L)
        causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)  # True = blocked
        blocked = causal[None] | pad[:, None, :]                                      # (b, L, L) query x key
        blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=seq.device)[None]  # pads see themselves
        mask = torch.zeros(b, length, length, device=seq.device).masked_fill(blocked, float("-inf"))
        mask = mask.repeat_interleave(self.cfg.n_heads, dim=0)                        # (b * heads, L, L)
        h = self.encoder(x, mask=mask)
        return self.out_norm(h)                                                       # (b, L, d)

    def user_states(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(last hidden state (b, d), item table (n_items + 1, d)) for scoring the next item."""
        table = self.item_table()
        return self.encode(seq, table)[:, -1], table

    def scores(self, seq: torch.Tensor) -> torch.Tensor:
        """Next-item logits (b, n_items) over the catalog (PAD column dropped)."""
        state, table = self.user_states(seq)
        return state @ table[1:].T

    def loss(self, seq: torch.Tensor) -> torch.Tensor:
        """Full-softmax next-item cross-entropy at every position of left-padded full sequences (b, L)."""
        table = self.item_table()
        h = self.encode(seq[:, :-1], table)                       # (b, L-1, d)
        target = seq[:, 1:]                                        # (b, L-1) next tokens
        valid = (target != PAD) & (seq[:, :-1] != PAD)
        logits = h[valid] @ table[1:].T                            # (N, n_items)
        return F.cross_entropy(logits, target[valid] - 1)


def pad_batch(histories: list[list[int]], max_len: int) -> torch.Tensor:
    """Left-pad item-index histories to tokens (b, L) with L = longest kept history (at least 1)."""
    kept = [h[-max_len:] for h in histories]
    length = max(1, max((len(h) for h in kept), default=1))
    out = torch.zeros(len(kept), length, dtype=torch.long)
    for r, h in enumerate(kept):
        if h:
            out[r, length - len(h):] = torch.tensor(h, dtype=torch.long) + 1
    return out
