"""The administrative hierarchy and its supervision bodies and departments.

The hierarchy is built as a networkx tree (central > province > city > county > grassroots
unit) and flattened to index arrays, so the weekly rules never walk the graph. Units are
numbered depth-first, which makes every jurisdiction a contiguous range of unit indices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import networkx as nx
import numpy as np

from .params import SCALES

LEVEL_NAMES = ("central", "province", "city", "county")
UNIT_LEVEL = len(LEVEL_NAMES)  # grassroots units sit one level below the counties


@dataclass(frozen=True)
class BodyKind:
    name: str
    zh: str
    item_weight: float  # items a year relative to the other kinds
    risk_targeting: float  # share of targeting by risk signals rather than at random
    levels: tuple[int, ...]


@dataclass(frozen=True)
class DepartmentKind:
    name: str
    zh: str
    topics: tuple[int, ...]  # the policy topics (tasks) the department owns
    levels: tuple[int, ...]


BODY_KINDS = (
    BodyKind("party_inspection_office", "党委督查室", 1.0, 0.2, (0, 1, 2, 3)),
    BodyKind("government_inspection_office", "政府督查室", 1.0, 0.2, (0, 1, 2, 3)),
    BodyKind("discipline_inspection", "纪检监察", 0.5, 0.6, (0, 1, 2, 3)),
    BodyKind("audit", "审计", 0.4, 0.6, (0, 1, 2, 3)),
    BodyKind("inspection_tour", "巡视巡察", 0.3, 0.4, (0, 1, 2, 3)),
)

TOPICS_PER_DEPARTMENT = 6  # inspection matters (事项) per line department's policy area


def _topics(department: int) -> tuple[int, ...]:
    return tuple(range(department * TOPICS_PER_DEPARTMENT, (department + 1) * TOPICS_PER_DEPARTMENT))


DEPARTMENT_KINDS = (
    DepartmentKind("housing", "住房城乡建设", _topics(0), (1, 2, 3)),
    DepartmentKind("development_reform", "发展改革", _topics(1), (1, 2, 3)),
    DepartmentKind("finance", "财政", _topics(2), (1, 2, 3)),
    DepartmentKind("ecology_environment", "生态环境", _topics(3), (1, 2, 3)),
    DepartmentKind("emergency_management", "应急管理", _topics(4), (1, 2, 3)),
    DepartmentKind("civil_affairs", "民政", _topics(5), (1, 2, 3)),
    DepartmentKind("agriculture", "农业农村", _topics(6), (1, 2, 3)),
    DepartmentKind("human_resources", "人力资源社会保障", _topics(7), (1, 2, 3)),
)

N_TOPICS = TOPICS_PER_DEPARTMENT * len(DEPARTMENT_KINDS)

# Expected visits per item, as a share of the jurisdiction's units, by level of the issuer.
COVERAGE_BY_LEVEL = np.array([0.01, 0.05, 0.15, 0.40])
BODY_ITEMS_PER_YEAR = 3.0  # per body and jurisdiction, before items_scale and kind weight
DEPARTMENT_ITEMS_PER_YEAR = 2.0  # per department and jurisdiction, before items_scale
# Items in the negative list's categories: assumed (D1 5.1 names 12 categories, no share), more
# among departments' own inspections than among the supervision bodies'.
UNNECESSARY_SHARE_BODY = 0.15
UNNECESSARY_SHARE_DEPARTMENT = 0.30


@dataclass(frozen=True)
class Organisation:
    scale: str
    graph: nx.DiGraph
    n_units: int
    n_jurisdictions: tuple[int, ...]  # per level 0..3
    jurisdiction_start: tuple[np.ndarray, ...]  # first unit index, per level
    jurisdiction_size: tuple[np.ndarray, ...]
    jurisdiction_parent: tuple[np.ndarray, ...]  # index at level-1; -1 for central
    unit_jurisdiction: tuple[np.ndarray, ...]  # per level, shape (n_units,)
    department_topic_links: nx.Graph  # departments to the policy topics they own

    def jurisdiction_name(self, level: int, index: int) -> str:
        return f"{LEVEL_NAMES[level]}-{index}"


def _build_graph(provinces: int, cities: int, counties: int, units: int) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_node(("central", 0), level=0)
    counters = {"province": 0, "city": 0, "county": 0, "unit": 0}

    def add(parent, kind, level):
        node = (kind, counters[kind])
        counters[kind] += 1
        graph.add_node(node, level=level)
        graph.add_edge(parent, node)
        return node

    for _ in range(provinces):
        province = add(("central", 0), "province", 1)
        for _ in range(cities):
            city = add(province, "city", 2)
            for _ in range(counties):
                county = add(city, "county", 3)
                for _ in range(units):
                    add(county, "unit", UNIT_LEVEL)
    return graph


def _department_topic_links() -> nx.Graph:
    links = nx.Graph()
    for kind in DEPARTMENT_KINDS:
        for topic in kind.topics:
            links.add_edge(("department", kind.name), ("topic", topic))
    return links


@lru_cache(maxsize=None)
def build_organisation(scale: str) -> Organisation:
    """Build (once per process and scale) the hierarchy and its flattened index arrays."""
    provinces, cities, counties, units = SCALES[scale]
    graph = _build_graph(provinces, cities, counties, units)
    unit_nodes = [node for node, data in graph.nodes(data=True) if data["level"] == UNIT_LEVEL]
    unit_index = {node: i for i, node in enumerate(sorted(unit_nodes, key=lambda n: n[1]))}
    n_units = len(unit_index)

    level_nodes = [[node for node, data in graph.nodes(data=True) if data["level"] == level]
                   for level in range(UNIT_LEVEL)]
    index_at_level = [{node: i for i, node in enumerate(sorted(nodes, key=lambda n: n[1]))}
                      for nodes in level_nodes]

    unit_jurisdiction = [np.zeros(n_units, dtype=np.int32) for _ in range(UNIT_LEVEL)]
    for node, i in unit_index.items():
        ancestor = node
        for level in range(UNIT_LEVEL - 1, -1, -1):
            ancestor = next(iter(graph.predecessors(ancestor)))
            unit_jurisdiction[level][i] = index_at_level[level][ancestor]

    starts, sizes, parents = [], [], []
    for level in range(UNIT_LEVEL):
        count = len(level_nodes[level])
        size = np.bincount(unit_jurisdiction[level], minlength=count)
        start = np.concatenate(([0], np.cumsum(size)[:-1]))
        parent = np.full(count, -1, dtype=np.int32)
        if level > 0:
            for node, i in index_at_level[level].items():
                parent[i] = index_at_level[level - 1][next(iter(graph.predecessors(node)))]
        starts.append(start.astype(np.int64))
        sizes.append(size.astype(np.int64))
        parents.append(parent)
        # Depth-first numbering: each jurisdiction's units are contiguous.
        assert np.all(np.diff(unit_jurisdiction[level]) >= 0)

    for array in (*unit_jurisdiction, *starts, *sizes, *parents):
        array.setflags(write=False)
    return Organisation(
        scale=scale,
        graph=graph,
        n_units=n_units,
        n_jurisdictions=tuple(len(nodes) for nodes in level_nodes),
        jurisdiction_start=tuple(starts),
        jurisdiction_size=tuple(sizes),
        jurisdiction_parent=tuple(parents),
        unit_jurisdiction=tuple(unit_jurisdiction),
        department_topic_links=_department_topic_links(),
    )
