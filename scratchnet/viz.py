"""The graph behind a tensor as Graphviz DOT: what backward() walks, from the output back to the leaves."""


def to_dot(tensor, path=None):
    """DOT text of the graph that made `tensor` (boxes: Functions; ovals: leaves, with their shapes).
    Written to `path` if given (render with `dot -Tpng graph.dot -o graph.png`)."""
    lines = ["digraph scratchnet {", '  rankdir="BT";', '  node [fontname="Helvetica", fontsize=10];']
    seen, ids = set(), {}

    def nid(obj):
        return ids.setdefault(id(obj), f"n{len(ids)}")

    def label(t):
        return f"{tuple(t.shape)} {t.dtype}"

    out = nid(tensor)
    lines.append(f'  {out} [label="output\\n{label(tensor)}", shape=oval, style=filled, fillcolor=lightyellow];')
    stack = []
    if tensor.grad_fn is not None:
        lines.append(f"  {nid(tensor.grad_fn)} -> {out};")
        stack.append(tensor.grad_fn)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        lines.append(f'  {nid(fn)} [label="{type(fn).__name__}", shape=box, style=filled, fillcolor=lightblue];')
        for x in fn.inputs or ():
            if x.grad_fn is not None:
                lines.append(f"  {nid(x.grad_fn)} -> {nid(fn)};")
                stack.append(x.grad_fn)
            elif x.requires_grad:
                lines.append(f'  {nid(x)} [label="leaf\\n{label(x)}", shape=oval];')
                lines.append(f"  {nid(x)} -> {nid(fn)};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        with open(path, "w") as f:
            f.write(text)
    return text
