"""BLEU against decoding speed: every evaluated model and beam of a results folder on one chart.

``kdseq-report --plot FILE.png``: x = sentences/s (log scale), y = BLEU; teachers and students are marked
apart, and the Pareto front (no other point is both faster and better) is joined by a line.
"""


def pareto_front(points):
    """Indices of the points (speed, quality) that no other point beats on both (>= on both, > on one), sorted
    by speed."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 >= x and y2 >= y) and (x2 > x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def label(r):
    """'student-seq-kd b1': the model and beam (kdseq-evaluate names CTranslate2 results <model>-ct2-<type>)."""
    return f"{r['name']} b{r['beam']}"


def plot(results, path, title=None):
    """Write the chart of ``results`` (kdseq-evaluate dicts) to ``path`` (.png, .svg or .pdf)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r["sent_per_s"], r["bleu"]) for r in results]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for is_teacher, marker, color, name in ((True, "s", "tab:red", "teacher"), (False, "o", "tab:blue", "student")):
        sel = [i for i, r in enumerate(results) if r["name"].startswith("teacher") == is_teacher]
        if sel:
            ax.scatter([pts[i][0] for i in sel], [pts[i][1] for i in sel], marker=marker, color=color, label=name,
                       zorder=3)
    front = pareto_front(pts)
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], color="gray", linestyle="--", zorder=2,
            label="Pareto front")
    for r, (x, y) in zip(results, pts):
        ax.annotate(label(r), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("sentences / s (log scale)")
    ax.set_ylabel("BLEU")
    devices = sorted({r["device"] for r in results})
    ax.set_title(title or f"BLEU against decoding speed ({', '.join(devices)})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return front
