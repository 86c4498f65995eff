"""A small torch network for the exporter and importer tests."""

from __future__ import annotations

import torch


class Small(torch.nn.Module):
    """Exercises grouped/dilated/strided convs, BN, ReLU6, hard activations, pools, residuals, FC."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.c3 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.relu6(self.bn1(self.c1(x)))
        y = torch.nn.functional.hardswish(self.c2(x))
        y = torch.nn.functional.hardsigmoid(self.c3(y)) * y + x
        y = torch.nn.functional.max_pool2d(torch.relu(y), 2)
        y = torch.nn.functional.avg_pool2d(y, 2)
        y = torch.sigmoid(y).mean(dim=(2, 3))
        return torch.softmax(self.fc(y), dim=1)
