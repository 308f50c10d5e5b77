# The main recipe's models: the teacher, the students (one job each), and the on-policy continuation.
TEACHER = f"{MODELS}/teacher/checkpoint_best.pt"
REGEN = f"{MODELS}/teacher/regenerated"
CACHE = f"{MODELS}/teacher/cache-top{config['cache_topk']}"
CHECKS = f"{RESULTS}/checks"


def train_env():
    """A training started with other arguments in the same folder is started over, not resumed (the scripts
    refuse it outside the workflow); the same arguments resume from checkpoint_last.pt."""
    return "KDSEQ_ON_CHANGE=restart"


rule teacher:
    input:
        DATA_READY,
    output:
        f"{MODELS}/teacher/training.json",
    params:
        preset=config["teacher_preset"],
        args=updates(config["teacher_updates"], config["teacher_extra"]),
        env=train_env(),
    threads: workflow.cores
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-teacher.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-teacher.sh {params.preset} {DATA} {MODELS}/teacher {params.args} "
        ">> {log} 2>&1"


# name: (method, data, inputs besides the teacher's check, arguments before the updates)
STUDENTS = {
    "baseline": ("baseline", DATA, [DATA_READY], ""),
    "word-kd": ("word-kd", DATA, [f"{MODELS}/cache.json"], f"- --teacher-cache {CACHE}"),
    "seq-kd": ("seq-kd", f"{REGEN}/best/bin", [f"{CHECKS}/regeneration.txt"], ""),
    "seq-inter": ("seq-kd", f"{REGEN}/bleu/bin", [f"{CHECKS}/regeneration.txt"], ""),
    # Kim & Rush's combination: word-level KD (the teacher online) on the seq-inter corpus
    "seq-inter-word": ("word-kd", f"{REGEN}/bleu/bin", [f"{CHECKS}/regeneration.txt"], TEACHER),
    # seq-KD on the regenerated corpus and the teacher's translations of the mono text
    "seq-kd-mono": ("seq-kd", f"{MODELS}/teacher/regenerated-with-mono/bin", [f"{MODELS}/combine-mono.json"], ""),
}


def student_spec(name):
    """(method, data, inputs, arguments before the updates, seed) of a student's name: one of STUDENTS, or
    seq-kd-teacherP / seq-kd-backwardP (the seq-KD corpus filtered), each with -seedN for seeds after the first."""
    m = re.fullmatch(r"(.+?)(?:-seed([0-9]+))?", name)
    base, seed = m.group(1), int(m.group(2) or 1)
    f = re.fullmatch(r"seq-kd-(teacher|backward)([0-9]{1,2})", base)
    if f:
        by, pct = f.group(1), int(f.group(2))
        return ("seq-kd", f"{MODELS}/teacher/filtered/{by}{pct}/bin", [f"{MODELS}/filter-{by}{pct}.json"], "", seed)
    return (*STUDENTS[base], seed)


SEEDS = [int(s) for s in config["seeds"]]  # --config seeds=[1,2] gives strings
STUDENT_NAMES = [s if seed == 1 else f"{s}-seed{seed}" for s in config["students"] for seed in SEEDS]
if "seq-kd-mono" in config["students"] and not config["mono"]:
    stop("config students: seq-kd-mono trains on the teacher's translations of mono text: set mono (a plain text "
         "file, or libreoffice-ui)")


def student_env(name):
    seed = student_spec(name)[4]
    return train_env() if seed == 1 else f"{train_env()} SEED={seed}"


rule student:
    input:
        lambda w: [f"{CHECKS}/teacher.txt", *student_spec(w.name)[2]],
    output:
        f"{MODELS}/student-{{name}}/training.json",
    wildcard_constraints:
        name="|".join(map(re.escape, STUDENT_NAMES)) or "(?!)",
    params:
        preset=config["student_preset"],
        method=lambda w: student_spec(w.name)[0],
        data=lambda w: student_spec(w.name)[1],
        args=lambda w: f"{student_spec(w.name)[3]} "
        f"{updates(config['student_updates'], config['student_extra'])}".strip(),
        env=lambda w: student_env(w.name),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-student-{{name}}.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-student.sh {params.preset} {params.method} {params.data} "
        "{MODELS}/student-{wildcards.name} {params.args} >> {log} 2>&1"


# The on-policy continuation (onpolicy: true): the seq-KD student goes on learning from its own samples, which the
# teacher scores token by token (GKD: every row sampled, generalized JSD at beta 0.1, no gold loss), against the same
# student given as many more updates on the seq-KD corpus. Both restart their optimiser at a constant rate; the first
# launch starts from the seq-KD student, an interrupted one resumes from its own checkpoint_last.pt.
def continuation():
    n, lr = config["onpolicy_updates"], config["onpolicy_lr"]
    half = (n + 1) // 2
    return (f"--finetune-from-model {MODELS}/student-seq-kd/checkpoint_best.pt --lr {lr} --warmup-init-lr {lr} "
            f"--warmup-updates 1000000 --max-update {n} --validate-interval-updates {half} "
            f"--save-interval-updates {half}")


CONTINUED = {
    "on-policy": f"word-kd {DATA} {MODELS}/student-on-policy {TEACHER} --kd-on-policy 1 --kd-divergence jsd "
    "--kd-beta 0.1 --kd-alpha 1",
    "seq-kd-more": f"seq-kd {REGEN}/best/bin {MODELS}/student-seq-kd-more",
}


rule student_continued:
    input:
        f"{MODELS}/student-seq-kd/training.json",
    output:
        f"{MODELS}/student-{{cont}}/training.json",
    wildcard_constraints:
        cont="on-policy|seq-kd-more",
    params:
        preset=config["student_preset"],
        what=lambda w: CONTINUED[w.cont],
        args=continuation(),
        env=train_env(),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-student-{{cont}}.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-student.sh {params.preset} {params.what} {params.args} >> {log} 2>&1"
