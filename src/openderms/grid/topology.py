"""Topology: switch states -> energised islands, feeder membership, what sits behind what.

``derive_topology(net)`` is pure and fast (scipy.sparse graph routines, a few ms on a
4,000-bus substation), so every switching action simply re-derives it: ``switch(net, id, closed)``
returns the new network and its topology in one call.

The energised part is walked breadth-first from the source bus(es) to give every bus a parent,
the branch it is fed through and its depth; a depth-first pre-order with subtree sizes makes
"everything downstream of X" a slice. A closed loop (a tie closed without opening a breaker)
is allowed: the walk picks one spanning tree and ``n_loops`` counts the extra branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from openderms.errors import UnknownElementError
from openderms.grid.model import Network, branch_buses, with_switch_state

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Branch:
    """A closed two-terminal connection between two buses (index form)."""

    kind: str
    id: str
    a: int
    b: int


@dataclass(frozen=True, slots=True)
class Topology:
    """The connectivity of a network under its present switch states."""

    bus_ids: tuple[str, ...]
    bus_index: Mapping[str, int]
    island: IntArray  # island number per bus
    energised: NDArray[np.bool_]  # bus connected to a source
    parent: IntArray  # parent bus index in the spanning tree (-1 for roots and dead buses)
    parent_branch: tuple[str | None, ...]  # id of the branch feeding each bus from its parent
    depth: IntArray  # number of branches from the source (-1 when de-energised)
    preorder: IntArray  # energised buses, depth-first pre-order
    position: IntArray  # index of each bus in ``preorder`` (-1 when de-energised)
    subtree_size: IntArray  # buses in the subtree rooted at each bus (0 when de-energised)
    feeder: tuple[str | None, ...]  # feeder id per bus (None: substation or de-energised)
    n_islands: int
    n_loops: int
    branches: tuple[Branch, ...]  # closed branches
    der_bus: Mapping[str, int]

    def index(self, bus_id: str) -> int:
        try:
            return self.bus_index[bus_id]
        except KeyError:
            raise UnknownElementError("bus", bus_id) from None

    def downstream(self, bus_id: str) -> IntArray:
        """Indices of ``bus_id`` and every bus fed through it (empty if de-energised)."""
        i = self.index(bus_id)
        pos = int(self.position[i])
        if pos < 0:
            return np.empty(0, dtype=np.int64)
        return self.preorder[pos : pos + int(self.subtree_size[i])]

    def downstream_of_branch(self, branch_id: str) -> IntArray:
        """Buses fed through a branch (line, switch, transformer); empty if it carries none."""
        for br in self.branches:
            if br.id != branch_id:
                continue
            for child in (br.b, br.a):
                if self.parent_branch[child] == branch_id:
                    return self.downstream(self.bus_ids[child])
            return np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.int64)

    def ders_behind(self, net: Network, element_id: str) -> tuple[str, ...]:
        """DER ids fed through a switch, line or transformer (the ones it would cut off)."""
        buses = set(self.downstream_of_branch(element_id).tolist())
        return tuple(d.id for d in net.ders if self.der_bus[d.id] in buses)

    def path_to_source(self, bus_id: str) -> tuple[str, ...]:
        """Branch ids from the source down to ``bus_id`` (empty if de-energised)."""
        i = self.index(bus_id)
        out: list[str] = []
        while self.parent[i] >= 0:
            br = self.parent_branch[i]
            assert br is not None
            out.append(br)
            i = int(self.parent[i])
        return tuple(reversed(out))


def derive_topology(net: Network) -> Topology:
    """Derive islands, energisation, the feeding tree and feeder membership from ``net``."""
    bus_ids = tuple(b.id for b in net.buses)
    index = {b: i for i, b in enumerate(bus_ids)}
    n = len(bus_ids)
    closed_switch = {s.id: s.closed for s in net.switches}
    branches = tuple(
        Branch(kind, bid, index[a], index[b])
        for kind, bid, a, b in branch_buses(net)
        if (kind != "switch" or closed_switch[bid]) and a in index and b in index and a != b
    )
    a_idx = np.fromiter((br.a for br in branches), dtype=np.int64, count=len(branches))
    b_idx = np.fromiter((br.b for br in branches), dtype=np.int64, count=len(branches))
    graph = coo_matrix((np.ones(len(branches)), (a_idx, b_idx)), shape=(n, n)).tocsr()
    n_islands, island = connected_components(graph, directed=False)
    island = island.astype(np.int64)

    source_buses = [index[s.bus] for s in net.sources if s.bus in index]
    energised = np.isin(island, island[source_buses]) if source_buses else np.zeros(n, bool)

    edge_of: dict[tuple[int, int], str] = {}
    for br in branches:
        edge_of.setdefault((br.a, br.b), br.id)
        edge_of.setdefault((br.b, br.a), br.id)

    parent = np.full(n, -1, dtype=np.int64)
    depth = np.full(n, -1, dtype=np.int64)
    parent_branch: list[str | None] = [None] * n
    sym = graph + graph.T
    seen_roots: set[int] = set()
    for root in source_buses:
        if island[root] in seen_roots:
            continue
        seen_roots.add(int(island[root]))
        order, pred = breadth_first_order(sym, root, directed=False, return_predecessors=True)
        depth[root] = 0
        for v in order[1:]:
            p = int(pred[v])
            parent[v] = p
            depth[v] = depth[p] + 1
            parent_branch[v] = edge_of[(p, int(v))]

    preorder, position, subtree = _preorder(parent, energised, source_buses)
    feeder = _feeder_membership(net, parent, preorder, parent_branch, n)
    n_tree_edges = int(energised.sum()) - len(seen_roots)
    n_energised_branches = int(np.sum(energised[a_idx] & energised[b_idx])) if branches else 0
    return Topology(
        bus_ids=bus_ids,
        bus_index=index,
        island=island,
        energised=energised,
        parent=parent,
        parent_branch=tuple(parent_branch),
        depth=depth,
        preorder=preorder,
        position=position,
        subtree_size=subtree,
        feeder=feeder,
        n_islands=int(n_islands),
        n_loops=max(0, n_energised_branches - n_tree_edges),
        branches=branches,
        der_bus={d.id: index.get(d.bus, -1) for d in net.ders},
    )


def _preorder(
    parent: IntArray, energised: NDArray[np.bool_], roots: list[int]
) -> tuple[IntArray, IntArray, IntArray]:
    """Depth-first pre-order of the spanning forest, each bus's position in it, subtree sizes."""
    n = len(parent)
    children: list[list[int]] = [[] for _ in range(n)]
    for v in np.flatnonzero(parent >= 0).tolist():
        children[int(parent[v])].append(v)
    order: list[int] = []
    done: set[int] = set()
    for r in roots:
        if r in done or not energised[r]:
            continue
        done.add(r)
        stack = [r]
        while stack:
            v = stack.pop()
            order.append(v)
            stack.extend(reversed(children[v]))
    pre = np.asarray(order, dtype=np.int64)
    position = np.full(n, -1, dtype=np.int64)
    position[pre] = np.arange(len(pre))
    size = np.zeros(n, dtype=np.int64)
    size[pre] = 1
    for v in pre[::-1].tolist():
        p = int(parent[v])
        if p >= 0:
            size[p] += size[v]
    return pre, position, size


def _feeder_membership(
    net: Network,
    parent: IntArray,
    preorder: IntArray,
    parent_branch: list[str | None],
    n: int,
) -> tuple[str | None, ...]:
    """Feeder of each bus: the feeder whose head branch lies on its path from the source."""
    head_to_feeder = {f.head: f.id for f in net.feeders}
    feeder: list[str | None] = [None] * n
    for v in preorder.tolist():
        br = parent_branch[v]
        if br is not None and br in head_to_feeder:
            feeder[v] = head_to_feeder[br]
        elif parent[v] >= 0:
            feeder[v] = feeder[int(parent[v])]
    return tuple(feeder)


def switch(net: Network, switch_id: str, closed: bool) -> tuple[Network, Topology]:
    """Open or close one switch and re-derive the topology: one call for a switching action."""
    new = with_switch_state(net, switch_id, closed)
    return new, derive_topology(new)
