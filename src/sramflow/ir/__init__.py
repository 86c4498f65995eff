"""Graph IR: typed nodes with known shapes, BatchNorm folded. torch-free."""

from sramflow.ir.graph import FoldedNode, Graph, Node

__all__ = ["FoldedNode", "Graph", "Node"]
