"""The Entropic Student's networks (Matsubara et al., WACV 2022), variable rate.

- device side, :meth:`StudentModel.encode_latents`: the teacher's stem and first block
  (EfficientNet-Lite0, 1/2 resolution, 16 channels; initialised from the teacher, fine-tuned),
  then a 4x4 stride-4 conv, GDN and a 1x1 conv to ``LATENT`` channels at 1/8 resolution, scaled
  by a learned per-quality, per-channel gain (the quantization step; Cui et al.'s gain units),
  rounded and coded with that quality's factorized prior
  (:class:`~neurocodec.codecs.latent_codecs.EntropyBottleneckLatentCodec`);
- server side, :meth:`StudentModel.decode_latents`: the gain is undone, convs with inverse GDN
  and a pixel shuffle rebuild the teacher's block-2 features (24 channels at 1/4), and copies of
  the teacher's blocks 3-4 (initialised from the teacher, fine-tuned) give the split-point
  features (40 channels at 1/8), which the teacher's unchanged tail turns into logits.

Exact: the integer symbols and the per-quality integer tables (the bitstream). Approximate: the
float encoder (it only chooses the symbols) and the float decoder and tail (logits may differ in
the last bits across machines and thread counts).
"""

from __future__ import annotations

import torch
from compressai.layers import GDN
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import EntropyBottleneckLatentCodec

from .teacher import SPLIT_BLOCK, SPLIT_STRIDE, Teacher, build_net

LATENT = 32
HIDDEN = 96
REBUILT_BLOCK = 2  # the decoder's convs rebuild this teacher block's output; blocks after it are copies
# Rate weight per quality (loss = feature distortion + beta * bits per input pixel), low to high rate.
BETAS = (2.56, 1.28, 0.64, 0.32, 0.16, 0.08)
INITIAL_GAINS = tuple(2.0 ** (q - 2) for q in range(len(BETAS)))
FEATURE_SCALE = 8.0  # teacher features at these depths have a standard deviation of about 7-8


class StudentModel(nn.Module):
    """Encoder, per-quality gains and priors, decoder; images in [0, 1], sides multiple of 8."""

    stride = SPLIT_STRIDE

    def __init__(self, latent: int = LATENT, hidden: int = HIDDEN):
        super().__init__()
        net = build_net()  # teacher-shaped parts; weights from the teacher (training) or a file
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish, net._blocks[0]).to(
            memory_format=torch.channels_last)  # 2x faster depthwise convs on CPU
        self.encoder = nn.Sequential(nn.Conv2d(16, 48, 4, 4), GDN(48), nn.Conv2d(48, latent, 1))
        rebuilt = net._blocks[REBUILT_BLOCK]._block_args.output_filters
        self.decoder = nn.Sequential(nn.Conv2d(latent, hidden, 3, 1, 1), GDN(hidden, inverse=True),
                                     nn.Conv2d(hidden, hidden, 3, 1, 1), GDN(hidden, inverse=True),
                                     nn.Conv2d(hidden, 4 * rebuilt, 1), nn.PixelShuffle(2))
        self.blocks = nn.Sequential(*net._blocks[REBUILT_BLOCK + 1:SPLIT_BLOCK])
        self.log_gain = nn.Parameter(torch.log(torch.tensor(INITIAL_GAINS)).view(-1, 1).repeat(1, latent))
        self.priors = nn.ModuleList(EntropyBottleneckLatentCodec(latent) for _ in BETAS)
        self.latent = latent

    @torch.no_grad()
    def init_from(self, teacher: Teacher) -> None:
        """Copy the teacher's stem, block 0 and blocks 3-4 into the teacher-shaped parts."""
        net = teacher.net
        for mine, theirs in ((self.stem, (net._conv_stem, net._bn0, net._swish, net._blocks[0])),
                             (self.blocks, net._blocks[REBUILT_BLOCK + 1:SPLIT_BLOCK])):
            mine.load_state_dict(nn.Sequential(*theirs).state_dict())

    def train(self, mode: bool = True) -> "StudentModel":
        """Batch norms of the teacher-shaped parts keep the teacher's statistics."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    @property
    def num_qualities(self) -> int:
        return len(BETAS)

    def _gain(self, quality: int) -> Tensor:
        return torch.exp(self.log_gain[quality])[None, :, None, None]

    def encode_latents(self, x: Tensor, quality: int) -> Tensor:
        """Scaled latents (before rounding) of images ``x``; ``quality`` is a 0-based index."""
        x = (x * 2 - 1).contiguous(memory_format=torch.channels_last)
        return self.encoder(self.stem(x)) * self._gain(quality)

    def rebuild(self, y_hat: Tensor, quality: int) -> Tensor:
        """The teacher's block-2 features (1/4 resolution) from (rounded) scaled latents."""
        return self.decoder(y_hat / self._gain(quality)) * FEATURE_SCALE

    def decode_latents(self, y_hat: Tensor, quality: int) -> Tensor:
        """Split-point features from (rounded) scaled latents."""
        return self.blocks(self.rebuild(y_hat, quality))

    def forward(self, x: Tensor, quality: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(block-2 features, split features, likelihoods)``: noisy latents in training,
        rounded ones in eval."""
        y_hat, likelihoods = self.priors[quality](self.encode_latents(x, quality))
        rebuilt = self.rebuild(y_hat, quality)
        return rebuilt, self.blocks(rebuilt), likelihoods

    def aux_loss(self) -> Tensor:
        return sum(p.aux_loss() for p in self.priors)

    @torch.no_grad()
    def update(self) -> None:
        """Integer tables of every quality's prior (once, after training)."""
        for prior in self.priors:
            prior.update()
