"""A lineage graph drawn server-side as SVG: columns by depth (sources left), no script, no CDN.

Readable at ~50 nodes: fixed-size boxes with truncated labels (the full text is in each node's tooltip),
rows per column, curved edges with arrowheads.
"""

from collections import defaultdict

from django.urls import reverse
from django.utils.html import escape

from lineage.selectors import GraphNode, LineageGraph

NODE_WIDTH, NODE_HEIGHT = 190, 38
COLUMN_GAP, ROW_GAP, MARGIN = 70, 12, 10
LABEL_CHARS = 26
KIND_ORDER = ["dataset_version", "external", "run", "model_version", "consumer"]
COLOURS = {  # fill, stroke
    "dataset_version": ("#fdf2ee", "#7a2e1d"),
    "external": ("#f2f4f7", "#98a2b3"),
    "run": ("#eef4ff", "#3538cd"),
    "model_version": ("#ecfdf3", "#137a3f"),
    "consumer": ("#fffaeb", "#a15c07"),
}
KIND_NAMES = {"dataset_version": "dataset version", "external": "external dataset", "run": "training run",
              "model_version": "model version", "consumer": "consumer"}


def _depths(graph: LineageGraph) -> dict[str, int]:
    """Longest path from a source; bounded by the node count, so stored cycles cannot loop forever."""
    depth = dict.fromkeys(graph.nodes, 0)
    for _ in range(len(graph.nodes)):
        changed = False
        for source, target in graph.edges:
            if depth[target] < depth[source] + 1:
                depth[target] = depth[source] + 1
                changed = True
        if not changed:
            break
    return depth


def _href(node: GraphNode) -> str:
    if node.kind == "dataset_version":
        return reverse("frontend:dataset-lineage", kwargs={"slug": node.ref[0]}) + f"?version={node.ref[1]}"
    if node.kind == "model_version":
        return reverse("frontend:model-detail", kwargs={"name": node.ref[0]})
    return ""


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def render_svg(graph: LineageGraph, *, highlight: set[str] | None = None) -> str:
    if not graph.nodes:
        return ""
    depth = _depths(graph)
    columns: dict[int, list[GraphNode]] = defaultdict(list)
    for node in graph.nodes.values():
        columns[depth[node.key]].append(node)
    sources: dict[str, list[str]] = defaultdict(list)
    for source, target in graph.edges:
        sources[target].append(source)
    position: dict[str, tuple[int, int]] = {}
    row_of: dict[str, int] = {}
    for column in sorted(columns):
        nodes = columns[column]

        def placement(node: GraphNode) -> tuple[int, float, str]:
            # Next to the nodes that feed it (barycentre of their rows), so edges cross less.
            rows = [row_of[source] for source in sources[node.key] if source in row_of]
            return KIND_ORDER.index(node.kind), sum(rows) / len(rows) if rows else 0.0, node.label

        nodes.sort(key=placement)
        for row, node in enumerate(nodes):
            row_of[node.key] = row
            position[node.key] = (MARGIN + column * (NODE_WIDTH + COLUMN_GAP),
                                  MARGIN + row * (NODE_HEIGHT + ROW_GAP))
    width = MARGIN * 2 + (max(columns) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(len(nodes) for nodes in columns.values()) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg class="lineage-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Lineage graph with {len(graph.nodes)} nodes">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#98a2b3"/></marker></defs>',
    ]
    for source, target in sorted(graph.edges):
        (x1, y1), (x2, y2) = position[source], position[target]
        x1, y1, y2 = x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2, y2 + NODE_HEIGHT // 2
        middle = (x1 + x2) // 2
        parts.append(f'<path d="M{x1} {y1}C{middle} {y1} {middle} {y2} {x2} {y2}" fill="none" stroke="#98a2b3" '
                     'stroke-width="1.2" marker-end="url(#arrow)"/>')
    for key, node in graph.nodes.items():
        x, y = position[key]
        fill, stroke = COLOURS[node.kind]
        width_attr = 2.5 if highlight and key in highlight else 1.2
        box = (f'<g><title>{escape(KIND_NAMES[node.kind])}: {escape(node.label)}'
               f'{" — " + escape(node.detail) if node.detail else ""}</title>'
               f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="7" fill="{fill}" '
               f'stroke="{stroke}" stroke-width="{width_attr}"/>'
               f'<text x="{x + 9}" y="{y + 16}" font-size="12" font-weight="600" fill="#1d2430">'
               f'{escape(_short(node.label))}</text>'
               f'<text x="{x + 9}" y="{y + 30}" font-size="10.5" fill="#667085">'
               f'{escape(_short(KIND_NAMES[node.kind] + (" · " + node.detail if node.detail else "")))}</text></g>')
        href = _href(node)
        parts.append(f'<a href="{escape(href)}">{box}</a>' if href else box)
    parts.append("</svg>")
    return "".join(parts)
